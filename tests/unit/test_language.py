"""Every word in the reader's language: the console's case page (cases in several states, staff's
and the customer's view, with its actions, assignee picker, canned replies and clock bars), the
queue's rows, the expected-wait panel, and every mail (every event, customer and staff side) in
every language, checked for words of another language, raw enum
values and the wording faults once found (doubled stops, "(1 attachments)", mixed 案件/案例)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from adapters.canned_replies import RepliesSource
from adapters.messages import Renderer
from adapters.phrases import PhraseBook
from adapters.settings import PROJECT_ROOT
from application.actions import CASE_ACTIONS
from application.ledgers import ledger_phrases
from application.whatif import whatif_phrases
from interfaces.console.case_page import CasePageParts, candidates, offers_of, reply_choices
from interfaces.console.i18n import LANGUAGES, Words
from interfaces.console.kit import environment as _environment
from interfaces.console.ledger_bars import BAR_WIDTH, KINDS, ledger_bars
from interfaces.console.queue import QueueEntry
from interfaces.console.report_range import report_range
from interfaces.console.weekly import chart, week_windows
from interfaces.console.whatif_page import WhatIfForm, checked_form, rows
from interfaces.console.words import Reading
from support.case.actions_now import taken_now
from support.case.customer_view import customer_view
from support.identity.access import Principal, Role
from support.messaging.notifications import CUSTOMER_TEMPLATES, SUPPORT_TEMPLATES, Audience, Notification
from support.reporting.reports import ClosedRow, OpenCase, ReportWindow, sla_report
from support.reporting.whatif import Flip, PolicyName, WhatIfReport, pairs
from support.rules.cooperation import RequestKind
from support.sla_clocks.ledger import LedgerSegment, SegmentKind, SlaBasis, ledger_of
from support.wording.reasons import Reason
from tests.case_driver import Driver
from tests.requests import case_request
from tests.unit.test_case_machine import T0 as T0_NAMES
from tests.unit.test_messages import FACTS, TIMES
from tests.unit.test_names import NAMED, STAFF, downgraded_and_withdrawn, worked

AGENT = Principal(name="li.wei", role=Role.AGENT)
PORTAL = Principal(name="admin.contoso", role=Role.PORTAL, tenants=("contoso",))  # a key named as a person
OPERATOR = Principal(name="zhang.min", role=Role.OPERATOR)  # a name: the same in every language

# Names, products and marks that are the same in every language.
PROPER = frozenset(
    {
        "contoso",
        "fabrikam",
        "kft",
        "ltd",
        "shanghai",
        "northwind",
        "litware",
        "teams",
        "casework",
        "csv",
        "toml",
        "api",
    }
    | {"wei", "cst", "cet", "cest", "utc", "asia", "europe", "budapest", "calls", "drop", "e.164", "sla"}
)
# people's own words, as they wrote them: marked on a page, quoted ("> ") on a line of a mail
OWN = re.compile(r'(?s:<q class="own"[^>]*>.*?</q>)|^> [^\n]*', re.M)
TAG = re.compile(r"<[^>]+>")
SKIP = re.compile(
    r"[\w.+*-]+@[\w.-]+|https?://\S+|\bCW-\d+\b|\bcase-[\w.-]+|\b[\w-]*request-[\w-]*\b|\([A-Z][a-z]+/[A-Za-z_]+\)"
    r"|\bweb-[0-9a-f]+\b|\b[a-z]+\.[a-z]+\b|\+\d+"
    r"|[(\uff08][a-z]+(?:_[a-z]+)+[)\uff09]"  # a code quoted for reference: '(not_admin)', an action's name
)
ENUMS = re.compile(
    r"(?<![\w-])(awaiting_first_response|awaiting_verification|in_progress|closed_unresponsive|first_response"
    r"|customer_update|impact_analysis|reachable_contacts|contact_data|met|waived|outstanding|resolved"
    r"|technical|billing|presales|premium|standard|running|breached|product)(?![\w-])"
)
# English words a Hungarian text never has ("is", "a" and "most" are Hungarian words too: not here)
ENGLISH_IN_HU = re.compile(
    r"\b(the|case|cases|your|please|with|severity|due|customer|reason|assigned|and|was|has|from|reply"
    r"|replied|closed|missed|deadline|previously|attachments|requester|contact|calendar|tenant|first|response"
    r"|field|required|must|characters|invalid|value|this|should|least)\b",
    re.I,
)
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
FAULTS = re.compile(
    r"\.\.(?!\.)|\.。|\(1 attachments\)|business days? of business time|Hello,\n\nwe|案件|工单|）:|-\dh \d\dm"  # noqa: RUF001
)


def foreign(text: str, language: str) -> list[str]:
    """What in `text` is not in `language`: another script's words, raw enum values, the faults."""
    plain = TAG.sub(" ", OWN.sub(" ", text)).replace("&#34;", '"').replace("&#39;", "'")
    found = FAULTS.findall(plain)
    plain = SKIP.sub(" ", plain)
    if language != "en":
        found += [m for m in ENUMS.findall(plain)]
    if language == "zh-CN":
        found += [w for w in LATIN_WORD.findall(plain) if w.lower() not in PROPER]
    else:
        found += CJK.findall(plain)
    if language == "en":
        found += re.findall(r"(?<![\w-])[a-z]+_[a-z_]+(?![\w-])", plain)
    if language == "hu":
        found += re.findall(ENGLISH_IN_HU, plain)
    return found


def test_the_checker_finds_each_fault_once_seen() -> None:
    """Each fault of main's rendering (issue 24) is caught."""
    assert foreign("billing 类案件", "zh-CN") and foreign("工单 CW-10001", "zh-CN"), "案例 is the word"
    assert foreign("已达成（用时 10秒，目标 15小时）: 计时 6秒", "zh-CN"), "a Chinese colon after Chinese"  # noqa: RUF001
    assert foreign("premium támogatási szerződés", "hu")
    assert foreign("Fabrikam Kft..", "en") and foreign("mailbox.。", "zh-CN")
    assert foreign("(1 attachments)", "en") and foreign("1 business day of business time", "en")
    assert foreign("Hello,\n\nwe have opened", "en")
    assert foreign("<td>请求人 policy</td>", "zh-CN") and foreign("<dd>resolved</dd>", "hu")
    assert foreign("<td>met</td>", "zh-CN") and foreign("-0h 00m 22s", "en")
    assert foreign("<label>request_id</label>", "en") and foreign("Done: resolve", "zh-CN")
    assert not foreign('<q class="own">any words, 任何文字</q> CW-10482 Contoso', "hu")
    assert not foreign("邮件服务器的答复 \n> 550 5.1.1 User unknown in local recipient table\n", "zh-CN")
    assert foreign("邮件服务器的答复 550 5.1.1 User unknown in local recipient table", "zh-CN")


def reading(language: str, zone: str = "Europe/Budapest") -> Reading:
    return Reading(
        Words(PROJECT_ROOT / "templates" / "console", language),
        PhraseBook(PROJECT_ROOT / "templates" / "reasons"),
        zone,
    )


@cache
def worked_in(language: str) -> Driver:
    """One worked case a language, for every page test of it (rendering changes nothing)."""
    return worked(NAMED, language, f"lang-{language}")


NO_PARTS = CasePageParts([], [], False, [], "", [], KINDS, False)


def case_page(
    language: str,
    view: object,
    refusal: str = "",
    principal: Principal | None = None,
    parts: CasePageParts = NO_PARTS,
) -> str:
    r = reading(language)
    obligations = {  # as the console's case page gives them
        q.request_id: q.what
        for q in view.customer_requests  # type: ignore[attr-defined]
        if q.kind is RequestKind.OBLIGATION
    }
    return (
        _environment()
        .get_template("case.html")
        .render(
            r=r,
            t=r.words,
            lang=language,
            languages=LANGUAGES,
            path="/console/cases/x",
            principal=principal,
            csrf="",
            may=lambda _: False,
            view=view,
            parts=parts,
            bar_width=BAR_WIDTH,
            forms=parts.offers,
            obligations=obligations,
            done="resolve",
            failed="",
            refusal=refusal,
        )
    )


def page_parts(driver: Driver, principal: Principal, language: str) -> CasePageParts:
    """The case page's actions, picker, canned replies and clock bars, as the console makes them."""
    case = driver.case
    zone = case.facts.time_zone
    basis = SlaBasis(view=case.view, policy=case.policy, tenant_time_zone=zone, tenant=case.tenant)
    actions = [a for a in CASE_ACTIONS if principal.allows(a.permission)]
    taken = taken_now(basis, candidates(actions, case.view, principal, ["li.wei", "zhang.min"]), driver.now)
    r = reading(language)
    staff = not principal.customer_side
    ledger = ledger_of(basis, driver.now)
    bars = ledger_bars(ledger, ledger_phrases(language), r.zone)
    replies_file = RepliesSource(PROJECT_ROOT / "replies.toml")
    replies, problem = reply_choices(replies_file, language, case.view.language)
    return CasePageParts(
        offers_of(actions, taken),
        [str(getattr(m, "assignee", "")) for m in taken.get("assign", [])],
        staff,
        replies if staff else [],
        problem,
        bars if staff else [],
        KINDS,
        True,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_case_page_with_its_actions_picker_replies_and_clock_bars_in_the_readers_language_only(
    language: str,
) -> None:
    """The page as an engineer and as the customer read it, with the actions the case takes now,
    the assignee picker, the canned replies and the clock bars (legend and account included)."""
    fresh = Driver(case_request(f"lang-page-{language}", language=language), T0_NAMES)
    worked_case = worked_in(language)
    for driver in (fresh, worked_case):
        for principal in (AGENT, PORTAL):
            parts = page_parts(driver, principal, language)
            shown = (
                driver.view
                if not principal.customer_side
                else customer_view(driver.view, STAFF.names(driver.case.rules.routing.support_name))
            )
            page = case_page(language, shown, principal=principal, parts=parts)
            assert not foreign(page, language), (language, principal.role, foreign(page, language))
            if principal is AGENT and driver is fresh:
                assert 'id="assign-assignee"' in page and 'id="respond-reply"' in page
                assert 'id="clock-first_response"' in page and 'id="clock-legend"' in page


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_case_page_is_in_the_readers_language_only(language: str) -> None:
    driver = worked_in(language)
    lowered = downgraded_and_withdrawn(NAMED, language, f"lang-low-{language}")[0]
    names = STAFF.names(driver.case.rules.routing.support_name)
    for view in (
        driver.view,
        lowered.view,
        customer_view(driver.view, names),
        customer_view(lowered.view, names),
    ):
        page = case_page(language, view)
        assert not foreign(page, language), (language, foreign(page, language))


@pytest.mark.parametrize("language", LANGUAGES)
def test_refusals_flashes_and_countdowns_in_the_readers_words_and_zone(language: str) -> None:
    r = reading(language, "Asia/Shanghai")
    given = datetime(2026, 12, 6, 16, 15, 45, 835850, tzinfo=UTC)
    said = r.refusal(f"the first response was already given by li.wei at {given}")
    assert "2026-12-07 00:15 CST (Asia/Shanghai)" in said and ".835850" not in said
    assert not foreign(said, language), said
    assert not foreign(r.term("flashes", "resolve"), language)
    breached = r.left(-22 * 60)
    assert "22" in breached and not foreign(breached, language), breached
    assert {"en": "breached 22 min ago", "zh-CN": "已超时 22 分钟", "hu": "22 perce lejárt"}[
        language
    ] == breached
    entry = QueueEntry(
        "case-x", "contoso", "t", "B", "in_progress", "first_response", given, -22, True, True, False, "UTC"
    )
    rows = _environment().get_template("queue_rows.html").render(r=r, t=r.words, entries=[entry])
    assert not foreign(OWN.sub("", rows.replace("<small>t</small>", "")), language), rows


def every_reason() -> list[Reason]:
    return [
        Reason(code="category_cap", params={"category": "billing", "severity": "B"}),
        Reason(
            code="agreement_required",
            params={"severity": "A", "needed": "premium", "agreement": "standard", "lower": "B"},
        ),
    ]


def mail(template: str, audience: Audience, language: str) -> Notification:
    facts = FACTS | {
        "tenant_name": "Fabrikam Kft.",
        "what": "a trace from the mailbox.",
        "obligations": "",
        "category": "billing",
        "title": "Teams calls drop",
        "message": "",
        "summary": "",
        "body": "",
        "details": "",
        "why": "",
        "description": "",
        "reason": "",
        "attachments": "",
    }
    return Notification(
        notification_id=f"case-r-1/{template}/0/{audience.value}",
        case_id="case-r-1",
        event=template,
        template=template,
        audience=audience,
        language=language,
        time_zone="Europe/Budapest",
        facts=facts,
        times=TIMES | {"due": datetime(2026, 11, 24, 15, 30, tzinfo=UTC) + timedelta(0)},
        reasons={"severity_reason": every_reason()},
    )


RENDERER = Renderer(PROJECT_ROOT / "templates")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(CUSTOMER_TEMPLATES))
def test_every_customer_mail_is_in_the_readers_language_only(template: str, language: str) -> None:
    message = RENDERER.render(mail(template, Audience.CUSTOMER, language))
    text = (message.subject + "\n" + message.text).replace("a trace from the mailbox.", "")
    assert not foreign(text, language), (template, foreign(text, language), message.text)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(SUPPORT_TEMPLATES))
def test_every_staff_mail_is_in_the_readers_language_only(template: str, language: str) -> None:
    """A staff member with `language = "hu"` in staff.toml reads Hungarian, not an English fallback."""
    message = RENDERER.render(mail(template, Audience.SUPPORT_QUEUE, language))
    assert message.language == language, f"no {language} template for {template}: read {message.language}"
    text = (message.subject + "\n" + message.text).replace("a trace from the mailbox.", "")
    assert not foreign(text, language), (template, foreign(text, language), message.text)


# The customer portal (interfaces/console/portal.py): "my requests", a request's page in each state the
# story reaches, the survey link's page in each of its states, and the survey mail with its link.


def portal_page(language: str, template: str, **context: object) -> str:
    from interfaces.console.portal import portal_words

    r = reading(language)
    return (
        _environment()
        .get_template(template)
        .render(
            r=r,
            t=r.words,
            p=portal_words(language),
            lang=language,
            languages=LANGUAGES,
            path="/console/requests",
            principal=None,
            csrf="",
            may=lambda _: False,
            **context,
        )
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_answer_with_no_known_author_shows_its_role_in_the_readers_language(language: str) -> None:
    """An obligation answered by a tick or by the API has no person's name (its author is its role,
    `support.case.thread`): the thread shows the role in the reader's words, never the raw "customer"."""
    from support.case.thread_message import MessageKind, ThreadMessage
    from support.policies.vocabulary import Via
    from support.rules.customer_promises import promise_of

    driver = worked(NAMED, language, f"ticked-{language}")
    view = customer_view(driver.view, STAFF.names(driver.case.rules.routing.support_name))
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    ticked = ThreadMessage(
        case_id=view.case_id,
        tenant_id=view.tenant_id,
        seq=2,
        at=now,
        kind=MessageKind.ANSWER,
        role="customer",
        author="customer",
        via=Via.PORTAL,
        internal=False,
        body="provided",
    )
    shown = portal_page(
        language, "portal_case.html", view=view, live=True, promise=promise_of(view, now),
        messages=[ticked], comment_id="c1", problems={},
    )  # fmt: skip
    role = str(reading(language).words("role_customer"))
    assert f'class="author">{role}</span>' in shown, shown
    if language != "en":
        assert 'class="author">customer' not in shown and "(customer)" not in shown


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_portal_pages_are_in_the_readers_language_only(language: str) -> None:
    from interfaces.console.portal import Listed, ListPage
    from support.case.view import Survey, SurveyOutcome
    from support.rules.customer_promises import promise_of

    driver = worked(NAMED, language, f"portal-{language}")
    lowered = downgraded_and_withdrawn(NAMED, language, f"portal-low-{language}")[0]
    names = STAFF.names(driver.case.rules.routing.support_name)
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    pages = []
    for view in (customer_view(driver.view, names), customer_view(lowered.view, names)):
        for done in ("obligations", "comment", "followed"):
            pages.append(
                portal_page(
                    language,
                    "portal_case.html",
                    view=view,
                    live=True,
                    promise=promise_of(view, now),
                    messages=[],
                    comment_id="c1",
                    done=done,
                    failed="survey",
                    refusal="the satisfaction survey was already answered at 2026-12-06 16:15:45+00:00",
                    problems={},
                )
            )
    listed = [
        Listed("case-contoso.a", "CW-10001", "in_progress", "technical", now, now),
        Listed("case-contoso.b", "CW-10002", "closed", "billing", now, None, now),
        Listed("case-contoso.c", "CW-10003", "resolved", "presales", now, None, now),
    ]
    second = ListPage(page=2, pages=3, total=101)  # the pager's words too
    pages.append(
        portal_page(
            language,
            "portal_requests.html",
            open_cases=listed[:1],
            closed_cases=listed[1:],
            open_page=second,
            closed_page=second,
        )
    )
    none = ListPage(page=1, pages=1, total=0)
    pages.append(
        portal_page(
            language, "portal_requests.html", open_cases=[], closed_cases=[], open_page=none, closed_page=none
        )
    )
    survey = Survey(sent_at=now, reminder_at=None, expires_at=now, outcome=SurveyOutcome.ANSWERED, score=4)
    answered = driver.view.model_copy(update={"survey": survey})
    for state in ("tampered", "expired", "open", "answered"):
        pages.append(
            portal_page(language, "survey_link.html", state=state, view=answered, token="t", thanked=True)
        )
    pages.append(
        portal_page(
            language,
            "portal_case.html",
            view=customer_view(answered, names),
            live=False,
            promise=promise_of(answered, now),
            messages=[],
            comment_id="c1",
            done="survey",
        )
    )
    for page in pages:
        assert not foreign(page, language), (language, foreign(page, language))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", ["survey", "survey_reminder"])
def test_the_survey_mail_offers_its_link_in_the_readers_language(template: str, language: str) -> None:
    n = mail(template, Audience.CUSTOMER, language)
    sent = datetime(2026, 12, 6, 12, tzinfo=UTC)
    n = n.model_copy(
        update={
            "facts": n.facts | {"survey_link": "https://support.example/console/survey/abc.def"},
            "times": n.times | {"survey_sent": sent, "survey_expires": sent + timedelta(days=7)},
        }
    )
    message = RENDERER.render(n)
    assert "https://support.example/console/survey/abc.def" in message.text
    assert "2026-12-13" in message.text, "the link's end, in the reader's zone"
    text = (message.subject + "\n" + message.text).replace("a trace from the mailbox.", "")
    assert not foreign(text, language), (template, foreign(text, language), message.text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_workspace_pages_are_in_the_readers_language_only(language: str) -> None:
    """The queue with its views, counts, pages, bulk form and per-case results, and the dashboard."""
    from markupsafe import escape

    from adapters.console_cases import Dashboard, View
    from support.identity.access import Principal, Role

    r = reading(language, "Asia/Shanghai")
    due = datetime(2026, 12, 6, 16, 15, tzinfo=UTC)
    entries = [
        QueueEntry(
            "case-x",
            "contoso",
            "Mail down",
            "A",
            "in_progress",
            "customer_update",
            due,
            -1320,
            True,
            True,
            False,
            "UTC",
            "CW-10001",
            None,
        ),
        QueueEntry(
            "case-y",
            "contoso",
            "Printer",
            "B",
            "awaiting_first_response",
            "first_response",
            due,
            4000,
            True,
            False,
            True,
            "UTC",
            "CW-10002",
            "li.wei",
        ),
    ]
    agent = Principal(name="li.wei", role=Role.AGENT)
    common = {
        "r": r,
        "t": r.words,
        "lang": language,
        "languages": LANGUAGES,
        "path": "/console/queue",
        "principal": agent,
        "csrf": "x",
        "may": lambda p: p in ("read_cases", "agent_action"),
    }
    queue = (
        _environment()
        .get_template("queue.html")
        .render(
            **common,
            entries=entries,
            views=list(View),
            counts={v.value: 3 for v in View},
            view="mine",
            search="打印",
            page=2,
            pages=3,
            total=120,
            chosen={"severity": "", "tenant": "", "status": ""},
            severities=["A", "B", "C"],
            statuses=[],
            query="",
            bulk=["assign", "resolve"],
            staff_names=["li.wei", "zhang.min"],
            results=[
                {"case_id": "case-x", "ref": "CW-10001", "outcome": "done", "detail": "", "action": "assign"},
                {
                    "case_id": "case-y",
                    "ref": "CW-10002",
                    "outcome": "refused",
                    "detail": "cannot assign: zhang.min already holds the case",
                    "action": "assign",
                },
                {
                    "case_id": "case-z",
                    "ref": "CW-10003",
                    "outcome": "not_found",
                    "detail": "",
                    "action": "resolve",
                },
                {
                    "case_id": "case-w",
                    "ref": "CW-10004",
                    "outcome": "unavailable",
                    "detail": "",
                    "action": "resolve",
                },
            ],
            problems={"pick": "x", "assign_reason": "x", "resolve_summary": "x"},
        )
    )
    for view in View:
        assert str(escape(r.term("views", view.value))) in queue
    assert not foreign(queue.replace('value="打印"', ""), language), foreign(queue, language)
    board = (
        _environment()
        .get_template("dashboard.html")
        .render(
            **common,
            board=Dashboard({"A": 2, "B": 1}, 1, 2, 10, 9),
            severities=["A", "B", "C"],
        )
    )
    assert not foreign(board, language), foreign(board, language)
    empty = Dashboard({}, 0, 0, 0, 0)
    assert not foreign(
        _environment().get_template("dashboard.html").render(**common, board=empty, severities=[]), language
    )


# -- the reports page with a range, and the what-if page (issues 24 and 25) ---------------------------

# The operator's own policy file in the what-if's box, and the policy validator's findings quoted as
# code (they name the file's own keys: `severities.A.first_response`), are theirs, not the page's.
QUOTED_CODE = re.compile(r"(?s)<textarea[^>]*>.*?</textarea>|<code[^>]*>.*?</code>")


def page(language: str, template: str, **context: object) -> str:
    r = reading(language, "Asia/Shanghai")
    return QUOTED_CODE.sub(
        " ",
        _environment()
        .get_template(template)
        .render(
            r=r,
            t=r.words,
            lang=language,
            languages=LANGUAGES,
            path=f"/console/{template}",
            principal=OPERATOR,
            csrf="",
            may=lambda _: True,
            **context,
        ),
    )


def report_rows() -> tuple[list[ClosedRow], list[OpenCase], datetime]:
    opened = datetime(2026, 11, 23, 1, tzinfo=UTC)
    closed = ClosedRow(
        case_id="case-contoso.r1", tenant_id="contoso", category="technical", final_severity="A",
        status="closed", created_at=opened, opened_at=opened,
        first_response_at=opened + timedelta(minutes=40),
        first_response_met=True, first_response_business_s=2400.0, reopens=1,
        reopened_at=[opened + timedelta(days=1)], archived_at=opened + timedelta(days=3),
    )  # fmt: skip
    running = OpenCase(
        case_id="case-contoso.r2", tenant_id="contoso", category="billing", severity="B",
        status="awaiting_first_response", started_at=opened, first_response_due=opened + timedelta(hours=9),
    )  # fmt: skip
    return [closed], [running], opened + timedelta(days=2)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reports_page_with_a_range_is_in_the_readers_language_only(language: str) -> None:
    closed, running, now = report_rows()
    window = ReportWindow(since=now - timedelta(days=7), until=now + timedelta(days=1))
    whole = sla_report(window, closed, running, now)
    weeks = week_windows(window)
    weekly = chart([sla_report(w, closed, running, now) for w in weeks], [w.since for w in weeks], whole)
    chosen = report_range("2026-11-18", "2026-11-25", "Asia/Shanghai", now)
    shown = page(language, "reports.html", report=weekly, chosen=chosen, chart_height=160, tenant="")
    assert 'id="summary-table"' in shown and not foreign(shown, language), foreign(shown, language)
    wrong = report_range("2026-11-25", "2026-11-18", "Asia/Shanghai", now)
    refused = page(language, "reports.html", report=None, chosen=wrong, chart_height=160, tenant="")
    assert 'id="error-to"' in refused and not foreign(refused, language), foreign(refused, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_whatif_page_is_in_the_readers_language_only(language: str) -> None:
    closed, running, now = report_rows()
    window = ReportWindow(since=now - timedelta(days=7), until=now + timedelta(days=1))
    in_force = sla_report(window, closed, running, now)
    moved = [closed[0].model_copy(update={"first_response_met": False})]
    segment = LedgerSegment(
        kind=SegmentKind.RUNNING, start=now - timedelta(days=2),
        end=now - timedelta(days=2) + timedelta(minutes=40),
        business_seconds=2400.0, assignee=None,
    )  # fmt: skip
    flip = Flip(
        case_id="case-contoso.r1", tenant_id="contoso", severity="A", category="technical",
        policy_digest=None,
        in_force="met", proposed="breached", first_response_at=closed[0].first_response_at,
        due_in_force=now, due_proposed=now - timedelta(days=2), segment=segment,
    )  # fmt: skip
    report = WhatIfReport(
        since=window.since, until=window.until, generated_at=now, tenants=None,
        proposed_policy=PolicyName(version="proposed", digest=None), policies_in_force=[], redecided=2,
        kept_as_recorded=0, groups=pairs(in_force, sla_report(window, moved, running, now)), flips=[flip],
    )  # fmt: skip
    words = whatif_phrases(language)
    form = WhatIfForm(
        policy='[severities.A]\nfirst_response = "30m"', first="2026-11-18", last="2026-11-25", tenant=""
    )
    shown = page(language, "whatif.html", w=words, form=form, result=report, rows=rows(report))
    assert 'class="flip"' in shown and not foreign(shown, language), foreign(shown, language)
    wrong = checked_form(
        {"policy": "[severities.A]\nfirst_response = 1", "from": "x", "tenant": "x'"}, "UTC", now, words
    )
    assert set(wrong.problems) == {"policy", "from", "tenant"}
    refused = page(language, "whatif.html", w=words, form=wrong, result=None)
    assert 'id="form-problems"' in refused and not foreign(refused, language), foreign(refused, language)


# -- pydantic's own field messages on console forms (issue 24) -------------------------------------


def bad_inputs() -> list[tuple[str, list[dict[str, object]]]]:
    """Every console form's model given bad input: nothing, too long, a control character, a wrong
    choice, a wrong number; pydantic's errors for each."""
    from pydantic import BaseModel, ValidationError

    from application.case_thread import Comment
    from support.case.actions import SurveyAnswer
    from support.rules.request import CaseRequest

    models: list[type[BaseModel]] = [a.body_model() for a in CASE_ACTIONS]
    models += [CaseRequest, Comment, SurveyAnswer]
    found = []
    for model in models:
        for given in (
            {},
            {name: "x" * 30_000 for name in model.model_fields},
            {name: "a\x01b" for name in model.model_fields},
            {name: "ab" for name in model.model_fields} | {"score": "9", "contact_phone": "12"},
            {"unexpected": "1", "score": "0", "severity": "Z", "contact_email": "nope"},
        ):
            try:
                model.model_validate(given)
            except ValidationError as error:
                found.append((model.__name__, [dict(e) for e in error.errors()]))
    return found


@pytest.mark.parametrize("language", ["zh-CN", "hu"])
def test_every_console_field_error_is_in_the_readers_language(language: str) -> None:
    """The console's forms (actions, Contact, comment, survey) with bad input: each of pydantic's
    messages in the reader's words, none generic where the type is known, none in English."""
    from interfaces.console.field_problems import MESSAGES, TYPES, field_problems

    words = reading(language).words
    generic = words("field_errors.invalid")
    seen = set()
    for model, errors in bad_inputs():
        for error in errors:
            seen.add(str(error["type"]))
            said = field_problems([error], words)
            (problem,) = said.values()
            assert not foreign(problem, language), (model, error, problem)
            known = error["type"] in TYPES or str(error["msg"]).removeprefix("Value error, ") in MESSAGES
            assert known == (problem != generic), (model, error, problem)
    assert {"missing", "string_too_long", "string_too_short", "enum", "value_error"} <= seen, seen
    too_short = field_problems(
        [{"type": "string_too_short", "loc": ("title",), "ctx": {"min_length": 3}}], words
    )
    assert too_short == {
        "title": {"zh-CN": "至少需要 3 个字符", "hu": "legalább 3 karakter hosszú legyen"}[language]
    }
    unknown = field_problems([{"type": "a_new_type", "loc": ("x",), "msg": "Some new English words"}], words)
    assert unknown == {"x": generic}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_replies_files_fault_is_said_in_the_readers_language(language: str, tmp_path: Path) -> None:
    """A bad replies.toml on the case page: one line naming the file and the field, in the reader's
    words (the file's own names as the operator wrote them)."""
    path = tmp_path / "replies.toml"
    r = reading(language)
    shown = []
    for text in (
        '[[replies]]\nid = "hi"\ntext = {en = "Hello!"}\n',
        "[[replies",
        '[[replies]]\nid = "Bad Id"\n',
        "id = = 1\n",
    ):
        path.write_text(text, "utf-8")
        _, problem = reply_choices(RepliesSource(path), language, language, r.replies_fault)
        line = str(r.phrase("replies_unusable", problem=problem))
        assert "replies.toml" in line and not foreign(line, language), line
        shown.append(line)
    if language == "en":
        assert "needs a text in zh-CN, hu" in shown[0] and "line 1, column 6" in shown[3]
    else:
        assert "zh-CN, hu" in shown[0] and "(and 1 more)" not in shown[2], shown


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_of_a_thing_is_said_in_the_singular(language: str) -> None:
    """No "(1 attachments)" or "1 business day(s)" in any language (Hungarian and Chinese count
    with the singular noun anyway)."""
    r = reading(language)
    one = str(r.line("customer_replied", "email: Here it is (1 attachment)", {}))
    two = str(r.line("customer_replied", "portal: Here they are (2 attachments)", {}))
    said = {
        "en": ("(1 attachment)", "(2 attachments)", "1 business day", "2 business days"),
        "zh-CN": ("（1 个附件）", "（2 个附件）", "1 个工作日", "2 个工作日"),  # noqa: RUF001
        "hu": ("(1 melléklet)", "(2 melléklet)", "1 munkanap", "2 munkanap"),
    }[language]
    assert said[0] in one and said[1] in two, (one, two)
    assert (r.target("1 business day"), r.target("2 business days")) == said[2:]

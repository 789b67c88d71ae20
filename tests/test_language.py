"""Every word in the reader's language: the console's case page (cases in several states, staff's
and the customer's view), the queue's rows, the expected-wait panel, and every mail (every event,
customer and staff side) in every language, checked for words of another language, raw enum
values and the wording faults once found (doubled stops, "(1 attachments)", mixed 案件/案例)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from adapters.messages import Renderer
from adapters.phrases import PhraseBook
from adapters.settings import PROJECT_ROOT
from intake.console.app import _environment
from intake.console.i18n import LANGUAGES, Words
from intake.console.queue import QueueEntry
from intake.console.report_range import report_range
from intake.console.weekly import chart, week_windows
from intake.console.whatif_page import WhatIfForm, checked_form, rows
from intake.console.words import Reading
from intake.whatif import whatif_phrases
from support.access import Principal, Role
from support.cooperation import RequestKind
from support.customer_view import customer_view
from support.notifications import CUSTOMER_TEMPLATES, SUPPORT_TEMPLATES, Audience, Notification
from support.reasons import Reason
from support.reports import ClosedRow, OpenCase, ReportWindow, sla_report
from support.sla_ledger import LedgerSegment, SegmentKind
from support.whatif import Flip, PolicyName, WhatIfReport, pairs
from tests.test_messages import FACTS, TIMES
from tests.test_names import NAMED, STAFF, downgraded_and_withdrawn, worked

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
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
FAULTS = re.compile(
    r"\.\.(?!\.)|\.。|\(1 attachments\)|business days? of business time|Hello,\n\nwe|案件|-\dh \d\dm"
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
        found += [w for w in re.findall(r"\b(the|case|cases|your|please|with|severity|due)\b", plain)]
    return found


def test_the_checker_finds_each_fault_once_seen() -> None:
    """Each fault of main's rendering (issue 24) is caught."""
    assert foreign("billing 类案件", "zh-CN")
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


def case_page(language: str, view: object, refusal: str = "") -> str:
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
            principal=None,
            csrf="",
            may=lambda _: False,
            view=view,
            bars=[],
            bar_width=300,
            forms=[],
            suggested={},
            obligations=obligations,
            done="resolve",
            failed="",
            refusal=refusal,
        )
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_case_page_is_in_the_readers_language_only(language: str) -> None:
    driver = worked(NAMED, language, f"lang-{language}")
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


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("template", sorted(SUPPORT_TEMPLATES))
def test_every_staff_mail_is_in_the_readers_language_only(template: str, language: str) -> None:
    message = RENDERER.render(mail(template, Audience.SUPPORT_QUEUE, language))
    text = (message.subject + "\n" + message.text).replace("a trace from the mailbox.", "")
    assert not foreign(text, language), (template, foreign(text, language), message.text)


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

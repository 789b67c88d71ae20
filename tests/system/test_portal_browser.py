"""The customer portal (issue 24) in a real browser, in en, zh-CN and hu, against the real stack: the
dev server, a casework worker, SQLite, the SMTP sink and the API served over HTTP on the port the
survey mail's link names. One stack and one browser for the module.

Used as a customer uses it: the tenant's admin ticks an obligation on their open request (the case
takes it as answered, as a reply by email); once the request is resolved and closed it is under
"Resolved and closed", and a comment on it opens a new request that follows it; the survey mail's
link, taken from the real mail, is answered with no key, once (a second click shows the answer
given); a changed link gets a page saying so, in the customer's language, and changes nothing.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser
from sqlalchemy import Engine

from adapters.closed_cases import store_closed_case
from adapters.database import open_database
from adapters.mail_sink import MailSink, free_port, read_mailbox, text_of
from adapters.settings import PROJECT_ROOT
from application.actions import ACTIONS
from application.cases import Cases
from bench.console_pages import seed
from bootstrap.api import api_app
from interfaces.console.portal import portal_words
from scaffold.local_stack import local_settings, start_local_server
from scaffold.policies import policy_toml
from support.case.actions import FirstResponse, Resolution
from support.case.view import CaseView, SurveyOutcome
from support.identity.access import Principal, Role
from support.policies.durations import parse_duration
from support.policies.policy import parse_policy, policy_from_dict
from support.policies.vocabulary import CaseStatus
from support.reporting.closed_case import closed_case_row
from support.rules.cooperation import RequestState
from tests.browser import BrowserPage, chromium, recorded_page, serving
from tests.conftest import running_worker
from tests.requests import case_request
from tests.system.test_api import KEYS, keyring

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPS = Principal(name="ops", role=Role.OPERATOR)
AGENT = Principal(name="li.wei", role=Role.AGENT)
LINK = re.compile(r"https?://\S+/console/survey/[A-Za-z0-9_.-]+")
LOCALES = {"en": "en-GB", "zh-CN": "zh-CN", "hu": "hu-HU"}
WORDS = {  # what each language's pages say, from the portal's phrase book
    "en": ("I have provided these", "This link is not valid"),
    "zh-CN": ("我已提供以上内容", "此链接无效"),
    "hu": ("Ezeket megküldtem", "Ez a hivatkozás nem érvényes"),
}


@dataclass
class Stack:
    url: str
    cases: Cases
    browser: Browser
    mail: Path
    engine: Engine


def quick_close_policy(directory: Path) -> Path:
    """The shipped policy with a one-second reopen window (the case closes and sends its survey at
    once) and a survey that waits an hour: the obligations and calendars are the shipped ones."""
    policy = parse_policy((PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8"))
    quick = policy.model_copy(
        update={
            "resolution": policy.resolution.model_copy(update={"reopen_window": parse_duration("1s")}),
            "survey": policy.survey.model_copy(
                update={"wait": parse_duration("1h"), "reminder_after": parse_duration("50m")}
            ),
        }
    )
    path = directory / "quick-close.toml"
    path.write_text(
        policy_toml(policy_from_dict(quick.model_dump(mode="json"), "quick close")), encoding="utf-8"
    )
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root: Path = tmp_path_factory.mktemp("portal")
    sink = MailSink(root / "var" / "mail").start()
    port = free_port()
    settings = local_settings(
        root / "var", sink, policy=quick_close_policy(root), task_queue=f"portal-{uuid.uuid4().hex[:8]}"
    )
    settings = settings.replace(public_url=f"http://127.0.0.1:{port}")
    env = await start_local_server()
    try:
        async with running_worker(env.client, settings) as cases:
            app = api_app(settings, cases=cases, keyring=keyring())
            engine = open_database(settings)
            try:
                async with serving(app, port) as url, chromium() as browser:
                    yield Stack(url, cases, browser, root / "var" / "mail", engine)
            finally:
                engine.dispose()
    finally:
        await env.shutdown()
        sink.stop()


async def signed_in(stack: Stack, key: str, locale: str) -> BrowserPage:
    browser = await recorded_page(stack.browser, locale=locale)
    await browser.page.goto(f"{stack.url}/console/")
    await browser.wait_for("form#sign-in")
    await browser.page.fill("#token", KEYS[key][2])
    await browser.page.click("form#sign-in button[type=submit]")
    await browser.wait_for("form#sign-out")
    return browser


async def until(stack: Stack, case_id: str, done: str, check: object) -> CaseView:
    for _ in range(300):
        view = await stack.cases.show(case_id)
        if check(view):  # type: ignore[operator]
            return view
        await asyncio.sleep(0.1)
    pytest.fail(f"{case_id} never reached: {done}")


def listed_in(page: str, name: str) -> list[str]:
    """The case ids of one of "my requests"' lists (`open` or `closed`)."""
    section = re.search(rf'<section id="{name}-requests">(.*?)</section>', page, re.S)
    assert section is not None, page
    return re.findall(r'<tr data-case-id="([^"]+)"', section.group(1))


def survey_link(stack: Stack, ref: str) -> str:
    for message in read_mailbox(stack.mail):
        text = text_of(message)
        if ref in str(message["Subject"]) and (found := LINK.search(text)):
            return found[0]
    return ""


async def test_a_customer_ticks_an_obligation_comments_on_the_closed_case_and_answers_the_survey_by_link(
    stack: Stack,
) -> None:
    """The story in the three languages at once (each its own customer's browser context and case):
    the waits for the cases overlap, so the module stays within the suite's time."""
    await asyncio.gather(*(story(stack, language) for language in LOCALES))


async def story(stack: Stack, language: str) -> None:
    tick, tampered = WORDS[language]
    opened = await stack.cases.open(
        case_request(f"portal-{uuid.uuid4().hex[:8]}", severity="B", language=language), OPS
    )
    case_id, ref = opened.case.case_id, opened.case.ref
    portal = await signed_in(stack, "contoso-portal", LOCALES[language])
    page = portal.page
    await page.click("#nav-requests")
    await portal.wait_for(f'#open-requests tr[data-case-id="{case_id}"]')
    await page.click(f'#open-requests tr[data-case-id="{case_id}"] a')
    await portal.wait_for("form#tick")
    assert await page.text_content("#tick-send") == tick, "the page speaks the reader's language"
    assert await page.locator("#request .legend, #request svg").count() == 0, "no SLA mechanics"
    await page.check("#ob-contact_data")
    await page.click("#tick-send")
    await portal.wait_for('#done[data-done="obligations"]')
    view = await stack.cases.show(case_id)
    [obligation] = [q for q in view.customer_requests if q.request_id == "contact_data"]
    assert obligation.state is RequestState.ANSWERED, "a tick is the customer's answer"
    assert await page.locator('label[data-request-id="contact_data"][data-state="answered"]').count() == 1

    await stack.cases.perform(
        ACTIONS["respond"], case_id, FirstResponse(engineer="li.wei", message="Looking at it"), AGENT
    )
    resolution = Resolution(engineer="li.wei", summary="Mail flows again")
    await stack.cases.perform(ACTIONS["resolve"], case_id, resolution, AGENT)
    await until(stack, case_id, "closed", lambda v: v.status is CaseStatus.CLOSED)

    await page.click("#back")
    await portal.wait_for(f'#closed-requests tr[data-case-id="{case_id}"]')
    await page.click(f'#closed-requests tr[data-case-id="{case_id}"] a')
    await portal.wait_for("form#comment")
    await portal.screenshot(f"portal-closed-{language}.png")
    await page.fill("#comment-body", "It happened again this morning")
    await page.locator("form#comment button[type=submit]").click()
    await portal.wait_for('#done[data-done="followed"]')
    assert await page.text_content("#case-follows") is not None, "the new request names the closed one"
    assert "It happened again" in (await page.text_content("#thread") or "")

    link = ""
    for _ in range(100):
        if link := survey_link(stack, ref):
            break
        await asyncio.sleep(0.1)
    assert link.startswith(stack.url), f"no survey link in the mail of {ref}"
    visitor = await recorded_page(stack.browser, locale=LOCALES[language])  # no sign-in, no key
    response = await visitor.page.goto(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
    assert response is not None and response.status == 404
    assert tampered in (await visitor.page.text_content("#link-problem") or "")
    assert (await stack.cases.show(case_id)).survey.outcome is SurveyOutcome.PENDING  # type: ignore[union-attr]
    await visitor.page.goto(link)
    await visitor.wait_for("form#survey-form")
    said = portal_words(language)  # the link's page speaks the customer's language
    assert await visitor.page.text_content("form#survey-form button[type=submit]") == said("survey_send")
    await visitor.page.check("#score-4")
    await visitor.page.fill("#survey-comment", "Quick")
    await visitor.page.locator("form#survey-form button[type=submit]").click()
    await visitor.wait_for("#survey-given")
    assert await visitor.page.text_content("#survey-given") == said("survey_given", score=4)
    await visitor.screenshot(f"portal-survey-{language}.png")
    answered = await stack.cases.show(case_id)
    assert answered.survey is not None and answered.survey.score == 4
    await visitor.page.goto(link)  # the second click: the answer given, no form
    await visitor.wait_for('#survey-link[data-state="answered"]')
    assert await visitor.page.locator("form#survey-form").count() == 0
    assert visitor.page_errors == [] and visitor.outside_loopback() == [], visitor.report()
    assert portal.page_errors == [] and portal.outside_loopback() == [], portal.report()
    await visitor.page.context.close()
    await page.context.close()


async def test_the_portal_keeps_to_its_tenant_and_its_customers_and_lists_what_temporal_forgot(
    stack: Stack,
) -> None:
    """Another tenant's key finds no request (404), a staff key has no portal (403); a form with a
    field missing says which and changes nothing; a closed case known only by its `closed_cases`
    record is listed and shown (archived: no comment box); both lists page, 50 a page, with counts."""
    opened = await stack.cases.open(case_request(f"doors-{uuid.uuid4().hex[:8]}", severity="B"), OPS)
    case_id = opened.case.case_id
    theirs = await signed_in(stack, "fabrikam-portal", "hu-HU")
    response = await theirs.page.goto(f"{stack.url}/console/requests/{case_id}")
    assert response is not None and response.status == 404
    await theirs.page.goto(f"{stack.url}/console/requests")
    await theirs.wait_for("#closed-requests")
    assert await theirs.page.locator(f'tr[data-case-id="{case_id}"]').count() == 0
    agent = await signed_in(stack, "li.wei", "en-GB")
    response = await agent.page.goto(f"{stack.url}/console/requests")
    assert response is not None and response.status == 403, "the portal is the customer's"

    ours = await signed_in(stack, "contoso-portal", "en-GB")
    page = ours.page
    await page.goto(f"{stack.url}/console/requests/{case_id}")
    await ours.wait_for("form#withdraw-form")
    csrf = await page.get_attribute("form#withdraw-form input[name=csrf]", "value")
    refused = await page.request.post(
        f"{stack.url}/console/requests/{case_id}/withdraw", form={"csrf": csrf or "", "reason": ""}
    )
    assert refused.status == 422 and 'data-field="reason"' in await refused.text()
    foreign_tick = await page.request.post(  # impact_analysis is no obligation of a B case
        f"{stack.url}/console/requests/{case_id}/obligations",
        form={"csrf": csrf or "", "ob-impact_analysis": "on"},
    )
    assert foreign_tick.status == 422 and 'data-field="obligations"' in await foreign_tick.text()
    no_csrf = await page.request.post(
        f"{stack.url}/console/requests/{case_id}/withdraw", form={"reason": "x"}
    )
    assert no_csrf.status == 403, "a form without this browser's token is refused"
    assert (await stack.cases.show(case_id)).status is CaseStatus.AWAITING_FIRST_RESPONSE, "nothing changed"
    await page.fill("#withdraw-reason", "It works again")
    await page.locator("form#withdraw-form button[type=submit]").click()
    await ours.wait_for('#done[data-done="withdraw"]')
    ended = await until(stack, case_id, "withdrawn", lambda v: v.status is CaseStatus.WITHDRAWN)

    gone = f"case-contoso.gone-{uuid.uuid4().hex[:8]}"  # a case Temporal no longer remembers
    record = ended.model_copy(update={"case_id": gone, "case_number": None, "title": "An old request"})
    await asyncio.to_thread(store_closed_case, stack.engine, closed_case_row(record, datetime.now(UTC)))
    await page.goto(f"{stack.url}/console/requests")
    await ours.wait_for(f'#closed-requests tr[data-case-id="{gone}"]')
    await page.click(f'#closed-requests tr[data-case-id="{gone}"] a')
    await ours.wait_for("#archived")
    assert "An old request" in (await page.text_content("h1") or "")
    response = await theirs.page.goto(f"{stack.url}/console/requests/{gone}")
    assert response is not None and response.status == 404, "a record is its tenant's too"

    # Both lists page as the queue does: 60 open and 60 closed requests of fabrikam's (one in five
    # of the seeded), 50 a page, with their counts; every row is fabrikam's.
    await asyncio.to_thread(seed, stack.engine, None, 300, datetime.now(UTC), 300)
    first = await (await theirs.page.request.get(f"{stack.url}/console/requests")).text()
    second = await (
        await theirs.page.request.get(f"{stack.url}/console/requests?open_page=2&closed_page=2")
    ).text()
    for name in ("open", "closed"):
        total = int(re.findall(rf'id="{name}-count">(\d+)<', first)[0])
        on_first, on_second = listed_in(first, name), listed_in(second, name)
        assert total >= 60 and len(on_first) == 50 and len(on_second) == total - 50, (name, total)
        assert not set(on_first) & set(on_second) and all(c.startswith("case-fabrikam.") for c in on_first)
        assert f'id="{name}-next"' in first and f'id="{name}-previous"' in second
        assert 'data-page="2" data-pages="2"' in second
    for browser in (theirs, agent, ours):
        assert browser.page_errors == [] and browser.outside_loopback() == [], browser.report()
        await browser.page.context.close()

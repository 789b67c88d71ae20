"""The console (/console/) in a real browser (Debian's chromium through Playwright) against the real
stack: the dev server, a casework worker, SQLite, the SMTP sink and the API app served over HTTP.
One server stack and one browser for the module; each person signs in in a context of their own.

Used as people use it: an engineer sees a new case at the top of the queue, answers it and watches
it leave; a customer's admin sees the expected wait before opening a case through the form; a
portal key cannot see or act on another tenant's case; a form without its CSRF token is refused;
sign-out ends the session. Each page is saved under var/screenshots/console-*.png.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from adapters.mail_sink import MailSink
from adapters.settings import Settings
from application.cases import Cases
from bootstrap.api import api_app
from scaffold.local_stack import local_settings, start_local_server
from support.identity.access import Principal, Role
from tests.browser import BrowserPage, chromium, recorded_page, serving
from tests.conftest import running_worker
from tests.requests import case_request
from tests.system.test_api import KEYS, keyring

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPS = Principal(name="ops", role=Role.OPERATOR)


@dataclass
class Stack:
    url: str
    cases: Cases
    browser: Browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root: Path = tmp_path_factory.mktemp("console")
    sink = MailSink(root / "var" / "mail").start()
    settings: Settings = local_settings(root / "var", sink, task_queue=f"console-{uuid.uuid4().hex[:8]}")
    env = await start_local_server()
    try:
        async with running_worker(env.client, settings) as cases:
            app = api_app(settings, cases=cases, keyring=keyring())
            async with serving(app) as url, chromium() as browser:
                yield Stack(url, cases, browser)
    finally:
        await env.shutdown()
        sink.stop()


async def signed_in(stack: Stack, key: str, locale: str = "en-GB") -> BrowserPage:
    """A fresh browser context signed in with the key's token through the sign-in form."""
    browser = await recorded_page(stack.browser, locale=locale)
    await browser.page.goto(f"{stack.url}/console/")
    await browser.wait_for("form#sign-in")
    await browser.page.fill("#token", KEYS[key][2])
    await browser.page.click("form#sign-in button[type=submit]")
    await browser.wait_for("form#sign-out")
    return browser


async def open_case(stack: Stack, tag: str, tenant: str = "contoso", **fields: str) -> str:
    opened = await stack.cases.open(case_request(f"{tag}-{uuid.uuid4().hex[:8]}", tenant, **fields), OPS)
    return opened.case.case_id


def clean(browser: BrowserPage) -> None:
    assert browser.outside_loopback() == [], browser.report()
    assert browser.page_errors == [] and browser.refused == [], browser.report()
    expected = "the server responded with a status of 4"  # the refusals the tests ask for
    assert [e for e in browser.console_errors if expected not in e] == [], browser.report()


async def test_an_engineer_answers_a_new_case_and_it_leaves_the_queue(stack: Stack) -> None:
    later = await open_case(stack, "later", severity="C")
    urgent = await open_case(stack, "urgent", severity="A")
    agent = await signed_in(stack, "li.wei")
    page = agent.page
    assert page.url.endswith("/console/queue")
    response = await page.goto(f"{stack.url}/console/queue")
    assert response is not None
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    await agent.wait_for(f'tr[data-case-id="{urgent}"]')
    await agent.wait_for(f'tr[data-case-id="{later}"]')
    rows = page.locator("#queue-rows tr[data-case-id]")
    assert await rows.first.get_attribute("data-case-id") == urgent, "the nearest deadline first"
    due = datetime.fromisoformat(await rows.first.get_attribute("data-due") or "")
    assert due.tzinfo is not None
    countdown = f'tr[data-case-id="{urgent}"] td.countdown'
    shown = await page.text_content(countdown) or ""
    assert shown.startswith("0 h 5"), shown  # under an hour of business time left
    await page.wait_for_function(  # and it runs (the 24x7 calendar is open)
        "([cell, shown]) => document.querySelector(cell).textContent !== shown", arg=[countdown, shown]
    )
    await agent.screenshot("console-queue.png")

    await page.click(f'tr[data-case-id="{urgent}"] a')
    await agent.wait_for("#clock-first_response svg")
    assert await page.get_attribute("#case", "data-status") == "awaiting_first_response"
    assert await page.text_content("#case-status") == "awaiting first response"  # in the reader's words
    # issue 23: the engineer reads what the customer wrote and whom to reach
    assert await page.text_content("#request-description") == (
        "Nobody in the company can send or receive mail since 09:00."
    )
    assert "admin@contoso.example" in (await page.text_content("#request-contact") or "")
    await agent.screenshot("console-case.png")
    # A second tab on the same case, opened before the answer: its form is stale after it.
    stale = BrowserPage(await page.context.new_page())
    await stale.page.goto(f"{stack.url}/console/cases/{urgent}")
    await stale.wait_for("#action-respond")
    await page.click("#action-respond summary")
    await page.fill("#respond-message", "Looking at it now")
    await page.click("#action-respond form > button[type=submit]")
    await agent.wait_for("#done")
    assert await page.get_attribute("#case", "data-status") == "in_progress"
    assert await page.text_content("#case-status") == "in progress"  # in the reader's words
    await agent.wait_for("#clock-customer_update")

    # Answered: the page offers the first response no more; the stale tab's answer gets the
    # case's own reason, at the action.
    assert await page.locator("#action-respond").count() == 0
    await stale.page.click("#action-respond summary")
    await stale.page.fill("#respond-message", "Again")
    await stale.page.click("#action-respond form > button[type=submit]")
    await stale.wait_for("#action-respond .refusal")
    assert "li.wei" in (await stale.page.text_content("#action-respond .refusal") or "")
    await stale.screenshot("console-case-refused.png")
    await stale.page.close()

    await page.goto(f"{stack.url}/console/queue?status=awaiting_first_response")
    await agent.wait_for(f'tr[data-case-id="{later}"]')
    assert await page.locator(f'tr[data-case-id="{urgent}"]').count() == 0, "answered: out of that queue"

    await page.goto(f"{stack.url}/console/cases/{urgent}")
    await page.click("#action-resolve summary")
    await page.fill("#resolve-summary", "MX record fixed")
    await page.click("#action-resolve button[type=submit]")
    await agent.wait_for("#done")
    assert await page.get_attribute("#case", "data-status") == "resolved"
    assert await page.text_content("#case-status") == "resolved"  # in the reader's words
    await page.goto(f"{stack.url}/console/queue")
    await agent.wait_for(f'tr[data-case-id="{later}"]')
    assert await page.locator(f'tr[data-case-id="{urgent}"]').count() == 0, "resolved: out of the queue"

    # A form posted without its CSRF token is refused, even with the session cookie.
    status = await page.evaluate(
        """id => fetch(`/console/cases/${id}/actions/update`, {method: 'POST',
             headers: {'Content-Type': 'application/x-www-form-urlencoded'},
             body: 'message=forged'}).then(r => r.status)""",
        later,
    )
    assert status == 403
    untouched = await page.locator(f'tr[data-case-id="{later}"] td.status').text_content()
    assert untouched == "awaiting first response"

    await page.click("form#sign-out button")
    await agent.wait_for("form#sign-in")
    await page.goto(f"{stack.url}/console/queue")
    await agent.wait_for("form#sign-in")  # signed out: back to the sign-in form
    clean(agent)
    await page.context.close()


async def test_a_portal_admin_sees_the_expected_wait_then_opens_a_case(stack: Stack) -> None:
    portal = await signed_in(stack, "contoso-portal")
    page = portal.page
    await page.click("#nav-contact")
    await portal.wait_for("#wait-text")  # before anything is typed or submitted
    assert await page.get_attribute("#wait-text", "data-wait-seconds") not in (None, "")
    await page.select_option("#severity", "A")  # htmx asks again for the chosen severity
    await portal.wait_for('#wait-text[data-wait-seconds="3600"]')
    assert await page.get_attribute("#support-open", "data-open") == "1", "severity A is 24x7"
    await page.fill("#title", "Mail is down")
    await page.fill("#description", "Nobody can send mail since 09:00.")
    await page.fill("#requester", "admin@contoso.example")
    await page.fill("#contact_email", "admin@contoso.example")
    await page.fill("#contact_phone", "12345")
    await portal.screenshot("console-contact.png")
    await page.click("#open-case")
    await portal.wait_for('.field-error[data-field="contact_phone"]')  # a clear, field-level message
    await page.fill("#contact_phone", "+8613800138000")
    await page.click("#open-case")
    await portal.wait_for("#case-number")
    case_id = await page.get_attribute("#acknowledgement", "data-case-id") or ""
    assert case_id.startswith("case-contoso.web-")
    assert await page.get_attribute("#wait-text", "data-wait-seconds") is not None, "the wait is said again"
    await portal.screenshot("console-acknowledged.png")
    await page.click("#case-number a")
    await portal.wait_for("form#tick")  # the customer's page (the portal's): obligations to tick
    assert await page.locator("#action-respond").count() == 0, "none of the engineer's actions"
    clean(portal)
    await page.context.close()


async def test_a_portal_key_cannot_see_or_act_on_another_tenants_case(stack: Stack) -> None:
    theirs = await open_case(stack, "theirs", "fabrikam", severity="B")
    portal = await signed_in(stack, "contoso-portal", locale="hu-HU")
    page = portal.page
    assert await page.text_content("#nav-queue") == "Várólista", "the browser's language"
    await portal.wait_for("#queue")
    assert await page.locator(f'tr[data-case-id="{theirs}"]').count() == 0
    response = await page.goto(f"{stack.url}/console/cases/{theirs}")
    assert response is not None and response.status == 404
    await portal.wait_for("#problem")
    csrf = await page.get_attribute("form#sign-out input[name=csrf]", "value")
    status = await page.evaluate(
        """([id, csrf]) => fetch(`/console/cases/${id}/actions/cooperate`, {method: 'POST',
             headers: {'Content-Type': 'application/x-www-form-urlencoded'},
             body: `csrf=${csrf}&request_id=contact_data&details=ok`}).then(r => r.status)""",
        [theirs, csrf],
    )
    assert status == 404, "another tenant's case does not exist for this key"
    view = await stack.cases.show(theirs)
    assert not [e for e in view.timeline if e.actor == "customer"], "and nothing reached the case"
    await page.goto(f"{stack.url}/console/reports")
    await portal.wait_for("#met-chart svg")
    await page.context.close()


async def test_an_operator_reads_the_weekly_report_and_downloads_it(stack: Stack) -> None:
    operator = await signed_in(stack, "ops")
    page = operator.page
    await page.click("#nav-reports")
    await operator.wait_for("#met-chart svg")
    assert await page.locator("#met-chart svg rect[data-severity]").count() == 8 * 3, "8 weeks, 3 severities"
    # this week's severity A case was answered in time (the first test): a full bar
    assert await page.locator('#met-chart rect[data-severity="A"][data-ratio="1.0"]').count() == 1
    await operator.wait_for("#satisfaction")
    await operator.screenshot("console-reports.png")
    download = await page.request.get(f"{stack.url}/console/reports.csv")
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    assert (await download.text()).startswith("week_start,severity,cases,met,breached,met_ratio")
    clean(operator)
    await page.context.close()
    agent = await signed_in(stack, "li.wei")
    response = await agent.page.goto(f"{stack.url}/console/reports")
    assert response is not None and response.status == 403, "reports are for operators and portals"
    await agent.page.context.close()


async def test_a_portal_admin_writes_to_support_in_the_comment_box_and_the_engineer_reads_it(
    stack: Stack,
) -> None:
    """Issue 23: the thread on the case page; the customer's comment box (zh-CN) adds one message,
    which the engineer reads with its author and the customer reads without staff's notes."""
    case_id = await open_case(stack, "thread", severity="B")
    agent = await signed_in(stack, "li.wei")
    await agent.page.goto(f"{stack.url}/console/cases/{case_id}")
    await agent.wait_for("#thread")
    await agent.page.click("#action-note summary")
    await agent.page.fill("#note-note", "Suspect the SBC")
    await agent.page.locator("#action-note button[type=submit]").click()
    await agent.wait_for("#done")
    portal = await signed_in(stack, "contoso-portal", locale="zh-CN")
    page = portal.page
    await page.goto(f"{stack.url}/console/cases/{case_id}")
    await portal.wait_for("form#comment")
    assert await page.text_content("form#comment button[type=submit]") == "发送"
    assert await page.locator('#thread li[data-kind="note"]').count() == 0, "no staff notes"
    await page.fill("#comment-body", "通话仍然断开")
    await page.locator("form#comment button[type=submit]").click()
    await portal.wait_for("#done")
    assert await page.locator('#thread li[data-kind="comment"]').count() == 1
    await portal.screenshot("console-thread.png")
    await agent.page.goto(f"{stack.url}/console/cases/{case_id}")
    await agent.wait_for('#thread li[data-kind="comment"]')
    kinds = await agent.page.eval_on_selector_all("#thread li", "items => items.map(i => i.dataset.kind)")
    assert kinds == ["description", "note", "comment"], kinds
    assert "通话仍然断开" in (await agent.page.text_content('#thread li[data-kind="comment"]') or "")
    clean(portal)
    clean(agent)
    await page.context.close()
    await agent.page.context.close()

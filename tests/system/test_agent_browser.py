"""The engineer in a real browser (Debian's chromium), one flow in each of en, zh-CN and hu (issue
24's done-when): an agent finds a case by a word of its thread among the unassigned, opens it,
takes it with the assignee picker (which lists only the staff who work the case's tenant), finds it
under "my cases", sees only the actions the case takes now, answers with a canned reply (the
customer's mail carries its text, in the customer's language), and reads the clock bar drawn from
the SLA ledger. Bulk resolve and its per-case refusal once (zh-CN); what a resolved case offers
each side once (en). One server stack and one browser for the module. Screenshots in
var/screenshots/: workspace-search-, workspace-mine-, case-page-<language>.png (copies in
docs/console/).
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser
from sqlalchemy import delete, select

from adapters.database import open_database
from adapters.mail_sink import MailSink, text_of
from adapters.schema import console_cases
from adapters.settings import PROJECT_ROOT, Settings
from application.actions import ACTIONS
from application.cases import Cases
from bootstrap.api import api_app
from interfaces.cli.console_projection import reproject
from interfaces.console.i18n import Words
from scaffold.local_stack import local_settings, start_local_server
from support.case.actions import Resolution
from support.identity.access import Principal, Role
from support.policies.vocabulary import Via
from tests.browser import BrowserPage, chromium, recorded_page, serving
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.system.test_api import KEYS, keyring

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPS = Principal(name="ops", role=Role.OPERATOR)
STAFF = """
[[staff]]
name = "li.wei"
email = "li.wei@casework.example"
language = "zh-CN"

[[staff]]
name = "zhang.min"
email = "zhang.min@casework.example"
tenants = ["contoso"]

[[staff]]
name = "kovacs.anna"
email = "kovacs.anna@casework.example"
tenants = ["fabrikam"]
"""
NEED_LOGS = {
    "en": "To find the cause we need the logs",
    "zh-CN": "我们需要问题发生时的日志",  # the middle of the sentence
    "hu": "Az ok megtalálásához szükségünk van",
}
WORDS = {  # a word of the thread, as each reader would type it
    "en": "flamingo" + uuid.uuid4().hex[:6],
    "zh-CN": "鸵鸟",
    "hu": "zsiráf" + uuid.uuid4().hex[:6],
}
NOTES = {
    "en": "The customer says the {w} gateway restarts every hour",
    "zh-CN": "客户说{w}网关每小时重启一次",
    "hu": "Az ügyfél szerint a {w} átjáró óránként újraindul",
}


@dataclass
class Stack:
    url: str
    cases: Cases
    browser: Browser
    settings: Settings


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root: Path = tmp_path_factory.mktemp("case-page")
    (root / "staff.toml").write_text(STAFF, encoding="utf-8")
    sink = MailSink(root / "var" / "mail").start()
    settings = local_settings(root / "var", sink, task_queue=f"case-page-{uuid.uuid4().hex[:8]}").replace(
        staff_file=root / "staff.toml",
        replies_file=PROJECT_ROOT / "replies.toml",
    )
    env = await start_local_server()
    try:
        async with running_worker(env.client, settings) as cases:
            app = api_app(settings, cases=cases, keyring=keyring())
            async with serving(app) as url, chromium() as browser:
                yield Stack(url, cases, browser, settings)
    finally:
        await env.shutdown()
        sink.stop()


async def signed_in(stack: Stack, key: str, locale: str) -> BrowserPage:
    browser = await recorded_page(stack.browser, locale=locale, width=1024, height=1150)
    await browser.page.goto(f"{stack.url}/console/")
    await browser.wait_for("form#sign-in")
    await browser.page.fill("#token", KEYS[key][2])
    await browser.page.click("form#sign-in button[type=submit]")
    await browser.wait_for("form#sign-out")
    return browser


async def offered(browser: BrowserPage) -> list[str]:
    ids: list[str] = await browser.page.eval_on_selector_all(
        "#actions details.action", "items => items.map(i => i.id.replace('action-', ''))"
    )
    return ids


@pytest.mark.parametrize(
    ("locale", "lang", "customer", "take_it"),
    [
        ("en-GB", "en", "hu", "Take it"),
        ("zh-CN", "zh-CN", "zh-CN", "由我处理"),
        ("hu-HU", "hu", "en", "Átveszem"),
    ],
)
async def test_an_agent_finds_a_case_by_its_thread_takes_it_and_answers_with_a_canned_reply(
    stack: Stack, locale: str, lang: str, customer: str, take_it: str
) -> None:
    opened = await stack.cases.open(
        case_request(f"page-{lang}-{uuid.uuid4().hex[:8]}", "contoso", severity="B", language=customer), OPS
    )
    case_id = opened.case.case_id
    ref = opened.case.case_number or case_id
    word = WORDS[lang]
    note = ACTIONS["note"]
    body = note.body_model().model_validate({"note": NOTES[lang].format(w=word)})
    await stack.cases.perform(note, case_id, note.payload(body, "zhang.min", Via.API), OPS)
    said = Words(PROJECT_ROOT / "templates" / "console", lang)
    agent = await signed_in(stack, "li.wei", locale)
    page = agent.page

    # Found by a word of its thread, among the unassigned.
    await page.goto(f"{stack.url}/console/queue?view=unassigned")
    await page.fill("#search", word)
    await page.click("#search-button")
    row = f'#queue-rows tr[data-case-id="{case_id}"]'
    await agent.wait_for(row)
    assert await page.locator("#queue-rows tr[data-case-id]").count() == 1, "only the case with the word"
    assert await page.get_attribute("#queue", "data-view") == "unassigned"
    assert await page.get_attribute("#view-unassigned .count", "data-count") == "1"
    assert await page.get_attribute("#view-mine .count", "data-count") == "0"
    assert (await page.text_content("#view-unassigned") or "").startswith(said("views.unassigned"))
    await agent.screenshot(f"workspace-search-{lang}.png")
    await page.click(f"{row} a")
    await agent.wait_for("#case-assignee")
    assert page.url == f"{stack.url}/console/cases/{case_id}", page.url
    assert await page.get_attribute("#case-assignee", "data-assignee") == ""
    assert await page.text_content("#take-it button") == take_it

    # Only what the case takes now: no update or request before the first response.
    before = await offered(agent)
    assert "respond" in before and "assign" in before and "note" in before
    assert "update" not in before and "ask" not in before and "reopen" not in before
    # The picker: the staff who work contoso's cases, not fabrikam's engineer, not free text.
    pick = await page.eval_on_selector_all("#assign-assignee option", "os => os.map(o => o.value)")
    assert pick == ["li.wei", "zhang.min"], pick
    severities = await page.eval_on_selector_all("#severity-severity option", "os => os.map(o => o.value)")
    assert "B" not in severities, "the severity it has is not offered"

    await page.click("#action-assign summary")
    await page.select_option("#assign-assignee", "li.wei")
    await page.fill("#assign-reason", "mine now")
    await page.click("#action-assign button[type=submit]")
    await agent.wait_for("#done")
    assert await page.get_attribute("#case-assignee", "data-assignee") == "li.wei"
    assert await page.locator("#take-it").count() == 0, "the holder is not offered to take it again"
    assert await page.eval_on_selector_all("#assign-assignee option", "os => os.map(o => o.value)") == [
        "zhang.min"
    ], "the holder is not offered to the picker"

    # The picker took it from "unassigned" to "my cases".
    await page.goto(f"{stack.url}/console/queue?view=mine")
    await agent.wait_for(row)
    assert await page.get_attribute("#queue", "data-view") == "mine"
    assert await page.get_attribute(f"{row} td.assignee", "data-assignee") == "li.wei"
    await agent.screenshot(f"workspace-mine-{lang}.png")
    await page.goto(f"{stack.url}/console/queue?view=unassigned&q={word}")
    await agent.wait_for("#queue-rows")
    assert await page.locator(row).count() == 0, "no longer unassigned"
    await page.goto(f"{stack.url}/console/cases/{case_id}")
    await agent.wait_for("#case-assignee")

    if lang == "en":  # the team rule holds for a form sent by hand too: fabrikam's engineer is refused
        csrf = await page.get_attribute("form#sign-out input[name=csrf]", "value")
        status = await page.evaluate(
            """([id, csrf]) => fetch(`/console/cases/${id}/actions/assign`, {method: 'POST',
                 headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                 body: `csrf=${csrf}&assignee=kovacs.anna&reason=cover+for+me`}).then(r => r.status)""",
            [case_id, csrf],
        )
        assert status == 422
        assert (await stack.cases.show(case_id)).assigned_engineer == "li.wei", "nothing changed"

    # A canned reply, picked without script's help: the server fills the box in the customer's language.
    await page.click("#action-respond summary")
    await page.select_option("#respond-reply", "need-logs")
    await page.click("#respond-canned button.use-reply")
    await agent.wait_for("#action-respond[open] #respond-message")
    text = await page.input_value("#respond-message")
    assert NEED_LOGS[customer] in text, text
    await page.click("#action-respond form button[type=submit]:not(.use-reply)")
    await agent.wait_for("#done")
    assert await page.get_attribute("#case", "data-status") == "in_progress"

    # Now the actions of a case in progress: the first response no more.
    after = await offered(agent)
    assert "respond" not in after and "update" in after and "ask" in after
    # The clock bar: drawn from the ledger's segments, with the legend and the account's words.
    # (running or outside support hours: severity B keeps business hours, and this runs at any hour)
    await agent.wait_for("#clock-first_response svg rect.seg[data-kind]")
    assert await page.get_attribute("#clock-first_response", "data-state") == "met"
    caption = await page.text_content("#clock-first_response figcaption") or ""
    assert caption.strip() != ""
    assert await page.locator("#clock-legend li").count() == 6
    await agent.screenshot(f"case-page-{lang}.png", full_page=False)

    # The customer's mail carries the reply's text, in their language.
    await delivered(stack.settings, case_id, "/first_response/")
    sent = [
        text_of(m)
        for m in mails(stack.settings, case_id)
        if "/first_response/" in str(m["X-Casework-Notification"])
    ]
    assert sent and NEED_LOGS[customer] in sent[-1], sent

    if lang == "zh-CN":  # once: bulk resolve, and a second one refused per case in the reader's words
        await bulk_resolve_and_its_refusal(agent, stack, case_id, ref, word, said)
    assert agent.page_errors == [] and agent.refused == [], agent.report()
    await page.context.close()
    if lang == "en":  # once: what a resolved case offers each side
        await resolved_offers_the_note_to_staff_and_reopen_to_the_customer(stack, case_id)


async def bulk_resolve_and_its_refusal(
    agent: BrowserPage, stack: Stack, case_id: str, ref: str, word: str, said: Words
) -> None:
    page = agent.page
    await page.goto(f"{stack.url}/console/queue?view=mine")
    await page.check(f'input[name="pick:{case_id}"]')
    await page.select_option("#bulk-action", "resolve")
    await page.fill("#bulk-summary", word)
    await page.click("#bulk-apply")
    done = f'#bulk-results li[data-case-id="{case_id}"]'
    await agent.wait_for(done)
    assert await page.get_attribute(done, "data-outcome") == "done"
    assert await page.text_content(done) == said(
        "bulk_outcomes.done", case=ref, action=said("flashes.resolve")
    )

    await page.click("#view-done")  # resolved: under "resolved and closed"; resolving again is refused
    await agent.wait_for(f'#queue-rows tr[data-case-id="{case_id}"] td.status[data-status="resolved"]')
    await page.check(f'input[name="pick:{case_id}"]')
    await page.select_option("#bulk-action", "resolve")
    await page.fill("#bulk-summary", word)
    await page.click("#bulk-apply")
    await agent.wait_for(done)
    assert await page.get_attribute(done, "data-outcome") == "refused"
    reason = said("refusals.not_open", status=said("statuses.resolved"))
    assert await page.text_content(done) == said("bulk_outcomes.refused", case=ref, reason=reason)
    await agent.screenshot(f"workspace-bulk-refused-{said.language}.png")


async def resolved_offers_the_note_to_staff_and_reopen_to_the_customer(stack: Stack, case_id: str) -> None:
    await stack.cases.act(case_id, Resolution(engineer="li.wei", summary="Logs showed the connector"))
    agent = await signed_in(stack, "li.wei", "en-GB")
    await agent.page.goto(f"{stack.url}/console/cases/{case_id}")
    await agent.wait_for("#case-assignee")
    assert await offered(agent) == ["note"], "resolved: reopen is the customer's"
    await agent.page.context.close()
    # A customer's key is sent from the case page to the portal's page of the request
    # (interfaces.console.portal): what they are promised and what they may do, as forms of its own.
    portal = await signed_in(stack, "contoso-portal", "hu-HU")
    await portal.page.goto(f"{stack.url}/console/cases/{case_id}")
    await portal.wait_for("#request")
    assert portal.page.url == f"{stack.url}/console/requests/{case_id}", portal.page.url
    assert await portal.page.locator("form#reopen-form").count() == 1, "resolved: reopen is the customer's"
    assert await portal.page.locator("form#withdraw-form, #tick-send, #actions").count() == 0
    assert await portal.page.locator("#clocks").count() == 0, "no internal SLA mechanics for customers"
    assert await portal.page.locator("#case-assignee").count() == 0, "customers never see staff names"
    await portal.page.context.close()


async def test_reproject_writes_the_rows_of_cases_opened_before_the_projection(stack: Stack) -> None:
    """After an upgrade: `starter.py console reproject` projects every open case from the case."""
    engine = open_database(stack.settings)
    with engine.begin() as connection:  # the cases this module opened, else one of its own
        before = dict(connection.execute(select(console_cases.c.case_id, console_cases.c.status)).all())
    if not any(status == "awaiting_first_response" for status in before.values()):
        opened = await stack.cases.open(case_request(f"upgrade-{uuid.uuid4().hex[:8]}", severity="C"), OPS)
        before[opened.case.case_id] = "awaiting_first_response"
    with engine.begin() as connection:  # as a database from before the projection
        connection.execute(delete(console_cases))
    await reproject(stack.cases, argparse.Namespace(), None)
    with engine.connect() as connection:
        after = dict(connection.execute(select(console_cases.c.case_id, console_cases.c.status)).all())
    still_open = {c: s for c, s in before.items() if s in ("awaiting_first_response", "in_progress")}
    assert still_open and {c: after.get(c) for c in still_open} == still_open, (before, after)
    engine.dispose()

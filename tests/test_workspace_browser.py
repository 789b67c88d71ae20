"""The engineer's workspace in a browser (Playwright, Debian chromium), in en, zh-CN and hu: an
engineer finds a case by a word of its thread, sees it under "unassigned", assigns it with the bulk
form, finds it under "my cases", and a bulk resolve the case refuses says why, per case, in the
reader's words. One stack and one browser for the module."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import delete, select

from adapters.database import open_database
from adapters.mail_sink import MailSink
from adapters.schema import console_cases
from adapters.settings import PROJECT_ROOT, Settings
from bootstrap.api import api_app
from intake.actions import ACTIONS
from intake.console.i18n import Words
from intake.console_projection import reproject
from scaffold.local_stack import local_settings, start_local_server
from support.access import Principal, Role
from support.vocabulary import Via
from tests.browser import chromium, serving
from tests.conftest import running_worker
from tests.test_api import keyring
from tests.test_console_browser import OPS, Stack, clean, open_case, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the stack's client lives on the module's loop
AGENT = Principal(name="li.wei", role=Role.AGENT)
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
class WorkspaceStack(Stack):
    settings: Settings


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkspaceStack]:
    root = tmp_path_factory.mktemp("workspace")
    sink = MailSink(root / "var" / "mail").start()
    settings = local_settings(root / "var", sink, task_queue=f"workspace-{uuid.uuid4().hex[:8]}")
    env = await start_local_server()
    try:
        async with running_worker(env.client, settings) as cases:
            app = api_app(settings, cases=cases, keyring=keyring())
            async with serving(app) as url, chromium() as browser:
                yield WorkspaceStack(url, cases, browser, settings)
    finally:
        await env.shutdown()
        sink.stop()


@pytest.mark.parametrize("language", ["en", "zh-CN", "hu"])
async def test_an_engineer_finds_a_case_by_its_thread_and_takes_it(stack: Stack, language: str) -> None:
    word = WORDS[language]
    case_id = await open_case(stack, f"ws-{language}", severity="B")
    note = ACTIONS["note"]
    body = note.body_model().model_validate({"note": NOTES[language].format(w=word)})
    await stack.cases.perform(note, case_id, note.payload(body, "zhang.min", Via.API), OPS)
    said = Words(PROJECT_ROOT / "templates" / "console", language)

    agent = await signed_in(stack, "li.wei")
    page = agent.page
    await page.goto(f"{stack.url}/console/queue?view=unassigned&lang={language}")
    await page.fill("#search", word)
    await page.click("#search-button")
    await agent.wait_for(f'tr[data-case-id="{case_id}"]')
    assert await page.locator("#queue-rows tr[data-case-id]").count() == 1, "only the case with the word"
    assert await page.get_attribute("#queue", "data-view") == "unassigned"
    assert await page.get_attribute("#view-unassigned .count", "data-count") == "1"
    assert await page.get_attribute("#view-mine .count", "data-count") == "0"
    assert (await page.text_content("#view-unassigned") or "").startswith(said("views.unassigned"))
    await agent.screenshot(f"workspace-search-{language}.png")

    await page.check(f'input[name="pick:{case_id}"]')
    await page.select_option("#bulk-action", "assign")
    await page.select_option("#bulk-assignee", "li.wei")
    await page.fill("#bulk-reason", said("views.mine"))
    await page.click("#bulk-apply")
    done = f'#bulk-results li[data-case-id="{case_id}"]'
    await agent.wait_for(done)
    assert await page.get_attribute(done, "data-outcome") == "done"
    ref = (await stack.cases.show(case_id, OPS)).case_number or case_id
    assert await page.text_content(done) == said(
        "bulk_outcomes.done", case=ref, action=said("flashes.assign")
    )
    assert await page.locator(f'#queue-rows tr[data-case-id="{case_id}"]').count() == 0, (
        "no longer unassigned"
    )

    await page.click("#view-mine")
    mine = f'#queue-rows tr[data-case-id="{case_id}"]'
    await agent.wait_for(mine)
    assert await page.get_attribute(f"{mine} td.assignee", "data-assignee") == "li.wei"
    assert await page.get_attribute("#queue", "data-view") == "mine"
    await agent.screenshot(f"workspace-mine-{language}.png")

    if language != "zh-CN":  # the bulk resolve and its refusal once: the test's time is shared
        clean(agent)
        await page.context.close()
        return
    await page.check(f'input[name="pick:{case_id}"]')
    await page.select_option("#bulk-action", "resolve")
    await page.fill("#bulk-summary", word)
    await page.click("#bulk-apply")
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
    await agent.screenshot(f"workspace-bulk-refused-{language}.png")
    clean(agent)
    await page.context.close()


async def test_reproject_writes_the_rows_of_cases_opened_before_the_projection(
    stack: WorkspaceStack,
) -> None:
    """After an upgrade: `starter.py console reproject` projects every open case from the case."""
    engine = open_database(stack.settings)
    with engine.begin() as connection:  # the cases this module opened, else one of its own
        before = dict(connection.execute(select(console_cases.c.case_id, console_cases.c.status)).all())
    if not any(status == "awaiting_first_response" for status in before.values()):
        case_id = await open_case(stack, "ws-upgrade", severity="C")
        before[case_id] = "awaiting_first_response"
    with engine.begin() as connection:  # as a database from before the projection
        connection.execute(delete(console_cases))
    await reproject(stack.cases, argparse.Namespace(), None)
    with engine.connect() as connection:
        after = dict(connection.execute(select(console_cases.c.case_id, console_cases.c.status)).all())
    still_open = {c: s for c, s in before.items() if s in ("awaiting_first_response", "in_progress")}
    assert still_open and {c: after.get(c) for c in still_open} == still_open, (before, after)
    engine.dispose()

"""The reports page with a date range and the policy what-if page, in a real browser (Debian's
chromium through Playwright) in en, zh-CN and hu, against the real stack (the dev server, a worker,
SQLite, the API app over HTTP). One stack and one browser for the module.

The stack's database holds eight closed cases with their recorded inputs (tests/system/test_whatif.py's:
seven A cases answered 5 to 75 minutes after opening, one B case). An operator reads the range's
report (every case closed, none open; in en: the table's words in every language are
tests/unit/test_language.py's), gets a field-level error in their language for a range that ends before
it starts, then pastes A's first response halved into the what-if and sees exactly the three cases
answered in the second half of the hour flip, each with the ledger segment the shorter target cut
into. Screenshots: var/screenshots/console-reports-range-en.png, console-reports-range-error-<lang>.png,
console-whatif-<lang>.png.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from adapters.database import open_database
from adapters.mail_sink import MailSink
from bootstrap.api import api_app
from scaffold.local_stack import local_settings, start_local_server
from tests.browser import BrowserPage, chromium, recorded_page, serving
from tests.conftest import running_worker
from tests.system.test_api import KEYS, keyring
from tests.system.test_console_browser import clean
from tests.system.test_whatif import ANSWERED_AFTER, HALVED, OPENED, archived, waited

pytestmark = pytest.mark.asyncio(loop_scope="module")
# the archived cases opened on OPENED's day (a Monday some weeks back): the day before to the day after
RANGE = ((OPENED - timedelta(days=1)).date().isoformat(), (OPENED + timedelta(days=1)).date().isoformat())


@dataclass
class Stack:
    url: str
    browser: Browser
    flipped: set[str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root: Path = tmp_path_factory.mktemp("reports")
    sink = MailSink(root / "var" / "mail").start()
    settings = local_settings(root / "var", sink, task_queue=f"reports-{uuid.uuid4().hex[:8]}")
    engine = open_database(settings)
    try:
        drivers = await archived(engine, None)
    finally:
        engine.dispose()
    # independently of the what-if: an A case flips when it was answered after 30 min and met its hour
    flipped = {d.view.case_id for d in drivers[: len(ANSWERED_AFTER)] if 30 * 60 < waited(d) <= 60 * 60}
    env = await start_local_server()
    try:
        async with running_worker(env.client, settings) as cases:
            app = api_app(settings, cases=cases, keyring=keyring())
            async with serving(app) as url, chromium() as browser:
                yield Stack(url, browser, flipped)
    finally:
        await env.shutdown()
        sink.stop()


async def operator(stack: Stack, lang: str) -> BrowserPage:
    browser = await recorded_page(
        stack.browser, locale={"en": "en-GB", "zh-CN": "zh-CN", "hu": "hu-HU"}[lang]
    )
    await browser.page.goto(f"{stack.url}/console/?lang={lang}")
    await browser.wait_for("form#sign-in")
    await browser.page.fill("#token", KEYS["ops"][2])
    await browser.page.click("form#sign-in button[type=submit]")
    await browser.wait_for("form#sign-out")
    return browser


SAID = {  # what each language says for: the range's end before its start; a breached verdict
    "en": ("The end date is before the start date.", "breached"),
    "zh-CN": ("截止日期早于起始日期。", "超时"),
    "hu": ("A záró dátum korábbi a kezdő dátumnál.", "megsértve"),
}


@pytest.mark.parametrize("lang", ["en", "zh-CN", "hu"])
async def test_an_operator_reads_a_range_then_tries_a_halved_target(stack: Stack, lang: str) -> None:
    ops = await operator(stack, lang)
    page = ops.page
    if lang == "en":  # the range's counts (the other languages' words: tests/unit/test_language.py)
        await page.click("#nav-reports")
        await ops.wait_for("form#report-range")
        await page.fill("input[name=from]", RANGE[0])
        await page.fill("input[name=to]", RANGE[1])
        await page.click("form#report-range button[type=submit]")
        await ops.wait_for("#summary-table")
        cells = ("cases", "closed", "answered", "past-due")
        assert [await page.text_content(f"#total-row td.{c}") for c in cells] == ["8", "8", "0", "0"]
        assert await page.text_content("#severity-A td.met") == "6", "six of the seven A cases met their hour"
        await ops.screenshot("console-reports-range-en.png")
    await page.goto(f"{stack.url}/console/reports?from={RANGE[1]}&to={RANGE[0]}")  # backwards
    await ops.wait_for("#error-to")
    assert await page.text_content("#error-to") == SAID[lang][0]
    assert await page.locator("#summary-table").count() == 0, "a bad range counts nothing"
    await ops.screenshot(f"console-reports-range-error-{lang}.png")

    await page.click("#nav-whatif")
    await ops.wait_for("form#whatif-form")
    await page.fill("#policy", HALVED)
    await page.fill("#whatif-form input[name=from]", RANGE[0])
    await page.fill("#whatif-form input[name=to]", RANGE[1])
    await page.click("#run-whatif")
    await ops.wait_for("#whatif-result")
    flips = page.locator("#flips tr.flip")
    assert {
        await flips.nth(i).get_attribute("data-case") for i in range(await flips.count())
    } == stack.flipped
    verdicts = await page.text_content("#flips tr.flip td.verdicts") or ""
    assert verdicts.endswith(SAID[lang][1]), verdicts
    assert await page.locator("#flips td.segment").first.text_content() != "—", "the segment is named"
    assert "changed" in (await page.get_attribute("#whatif-severity-A", "class") or "")
    await ops.screenshot(f"console-whatif-{lang}.png")
    clean(ops)

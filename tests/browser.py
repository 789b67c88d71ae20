"""A real browser for tests: Debian's chromium, headless, driven by Playwright.

Playwright is pointed at the system browser by path; it never downloads one (`playwright install`
is never run; `make test` installs Debian's `chromium` through scripts/ensure_chromium.sh). Every
request the pages make is recorded, and any request that would leave loopback is refused before it
is sent (and its host name cannot even be resolved), so a page that depends on a CDN fails here the
way it fails on a machine without internet, and the test says which URL it wanted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.async_api import Browser, ConsoleMessage, Page, Request, Route, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from starlette.types import ASGIApp

from adapters.mail_sink import free_port

CHROMIUM = Path(os.environ.get("CASEWORK_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})  # no network involved

# Browser-wide: no name resolves except loopback, so nothing can reach out even outside a page
# (Playwright's defaults already turn off background networking, component updates and sync).
_CHROMIUM_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname in LOOPBACK_HOSTS


@dataclass
class BrowserPage:
    """A page in a fresh browser context, with what it asked for and what went wrong in it."""

    page: Page
    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def outside_loopback(self) -> list[str]:
        return [url for url in self.requests if not is_loopback(url)]

    def report(self) -> str:
        """What the page asked for and what went wrong, for an assertion's message."""
        return (
            f"refused (off loopback): {self.refused}; failed: {self.failed}; "
            f"console errors: {self.console_errors}; page errors: {self.page_errors}"
        )

    async def wait_for(self, selector: str, timeout_ms: float = 30_000) -> None:
        """Wait until the selector shows and the page has loaded (its deferred scripts, htmx among
        them, have run: what shows then reacts, as it does for a person, who cannot act within the
        milliseconds before); fail at once, saying why, when the page asked off loopback."""
        assert self.refused == [], f"the page wanted what only the internet has: {self.report()}"
        try:
            await self.page.locator(selector).first.wait_for(timeout=timeout_ms)
            await self.page.wait_for_load_state("load", timeout=timeout_ms)  # no script: the CSP allows none
        except PlaywrightTimeoutError:
            pytest.fail(f"{selector!r} did not show in {timeout_ms / 1000:.0f} s; {self.report()}")

    async def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """A PNG under var/screenshots/ (private to the user, like the rest of var/)."""
        SCREENSHOTS.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        await self.page.screenshot(path=str(path), full_page=full_page)
        path.chmod(0o600)
        return path


def require_chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"no browser at {CHROMIUM}: the browser tests need Debian's 'chromium' package "
            "(`make test` installs it through scripts/ensure_chromium.sh)"
        )
    return CHROMIUM


async def recorded_page(
    browser: Browser, *, width: int = 1280, height: int = 900, locale: str | None = None
) -> BrowserPage:
    """A page in a fresh context of `browser` (its own cookies); requests off loopback are
    recorded and refused. The caller closes `page.context`."""
    context = await browser.new_context(
        viewport={"width": width, "height": height}, service_workers="block", locale=locale
    )
    page = await context.new_page()
    recorded = BrowserPage(page)

    def on_request(request: Request) -> None:
        recorded.requests.append(request.url)

    def on_failed(request: Request) -> None:
        recorded.failed.append(f"{request.url}: {request.failure}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            recorded.console_errors.append(message.text)

    def on_page_error(error: Exception) -> None:
        recorded.page_errors.append(str(error))

    async def guard(route: Route) -> None:
        if is_loopback(route.request.url):
            await route.continue_()
        else:
            recorded.refused.append(route.request.url)
            await route.abort("blockedbyclient")

    context.on("request", on_request)
    context.on("requestfailed", on_failed)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    await context.route("**/*", guard)
    return recorded


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """One headless chromium (the system's, by path) for several pages, e.g. a test module's."""
    executable = require_chromium()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=_CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def browser_page(*, width: int = 1280, height: int = 900) -> AsyncIterator[BrowserPage]:
    """Headless chromium with one page; requests off loopback are recorded and refused."""
    async with chromium() as browser:
        recorded = await recorded_page(browser, width=width, height=height)
        yield recorded
        await recorded.page.context.close()


@asynccontextmanager
async def serving(app: ASGIApp, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on a free loopback port (or `port`, one taken free before:
    a link in a mail names it); yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)  # uvicorn has no start event to wait on
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task

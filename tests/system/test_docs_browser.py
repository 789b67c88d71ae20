"""/docs and /redoc in a real browser (Debian's chromium, headless, through Playwright) against the
real API served over HTTP on loopback: every operation of the OpenAPI schema is listed, and no
request leaves loopback (the Swagger UI and ReDoc assets come from the installed package)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.settings import Settings
from bootstrap.api import api_app
from interfaces.api.docs import ASSETS_URL, REDOC_JS, SWAGGER_CSS, SWAGGER_JS
from tests.browser import BrowserPage, browser_page, serving

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
RENDER_TIMEOUT_MS = 30_000
# ReDoc's side menu always shows Redocly's logo from their CDN; the page's Content-Security-Policy
# makes the browser refuse it before any request is sent (Playwright reports it failed with "csp").
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
async def api_url(settings: Settings) -> AsyncIterator[str]:
    """The real app of `make run` and `starter.py serve`; the docs pages need no Temporal server."""
    async with serving(api_app(settings)) as url:
        yield url


async def openapi(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    spec: dict[str, Any] = response.json()
    return spec


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = spec["paths"]
    return {
        (method.upper(), path) for path, item in paths.items() for method in item if method in HTTP_METHODS
    }


def assert_loaded_from(browser: BrowserPage, url: str, *assets: str) -> None:
    for asset in assets:
        assert f"{url}{ASSETS_URL}/{asset}" in browser.requests, (asset, browser.requests)
    assert f"{url}/openapi.json" in browser.requests, browser.requests


async def test_swagger_ui_lists_every_operation_offline(api_url: str) -> None:
    spec = await openapi(api_url)
    expected = operations(spec)
    assert ("POST", "/cases") in expected
    spec_has_security_schemes = bool(spec.get("components", {}).get("securitySchemes"))
    async with browser_page() as browser:
        response = await browser.page.goto(f"{api_url}/docs")
        assert response is not None and response.status == 200
        await browser.wait_for(".opblock", RENDER_TIMEOUT_MS)
        listed = await browser.page.evaluate(
            """() => Array.from(document.querySelectorAll('.opblock')).map(block => [
                block.querySelector('.opblock-summary-method').textContent.trim(),
                block.querySelector('.opblock-summary-path').getAttribute('data-path')])"""
        )
        assert {(method, path) for method, path in listed} == expected
        assert len(listed) == len(expected), "each operation once"
        await browser.page.get_by_text("casework intake API", exact=False).first.wait_for()
        if spec_has_security_schemes:
            await browser.wait_for("button.authorize")  # a token can be given to try the API
        await browser.screenshot("docs.png")

        assert_loaded_from(browser, api_url, SWAGGER_JS, SWAGGER_CSS)
        assert browser.outside_loopback() == [], "every request stays on loopback"
        assert browser.refused == browser.failed == browser.console_errors == browser.page_errors == [], (
            browser.report()
        )


async def test_redoc_lists_every_operation_offline(api_url: str) -> None:
    expected = operations(await openapi(api_url))
    async with browser_page() as browser:
        response = await browser.page.goto(f"{api_url}/redoc")
        assert response is not None and response.status == 200
        await browser.wait_for("span.http-verb", RENDER_TIMEOUT_MS)
        listed = await browser.page.evaluate(
            """() => Array.from(document.querySelectorAll('span.http-verb')).map(verb => [
                verb.textContent.trim().toUpperCase(), verb.nextElementSibling.textContent.trim()])"""
        )
        assert {(method, path) for method, path in listed} == expected
        await browser.screenshot("redoc.png", full_page=False)  # the whole page is ~30,000 px tall

        assert_loaded_from(browser, api_url, REDOC_JS)
        assert browser.refused == [], "nothing off loopback reached the network layer"
        assert set(browser.outside_loopback()) <= {REDOCLY_LOGO}, browser.outside_loopback()
        assert all(failure == f"{REDOCLY_LOGO}: csp" for failure in browser.failed), browser.failed
        assert all("Content Security Policy" in error for error in browser.console_errors)
        assert browser.page_errors == []

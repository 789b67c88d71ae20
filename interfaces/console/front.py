"""The support console (/console/): server-rendered pages over the API's gateway and rules.

`install_console` puts the console in front of the API app: requests under /console go to the
console (signed in by its session cookie), every other request goes on to the API and its
bearer-token guard, untouched. The console's pages are HTML, not part of the API's OpenAPI
document or its endpoint table (tests/system/test_access.py); tests/system/test_console_browser.py covers
them.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from adapters.api_keys import Keyring
from adapters.settings import Settings
from application.cases import CasesSource
from application.guard import (
    TWO_AUTHORIZATIONS,
    ASGIApp,
    Receive,
    Scope,
    Send,
    authorization_headers,
    send_problem,
)
from application.limits import FrontLimits
from interfaces.api.expected_wait import ExpectedWaits
from interfaces.console.app import PREFIX, create_console
from interfaces.console.session import Sessions, SignOuts
from support.messaging.survey_links import survey_key


class ConsoleDispatch:
    """An ASGI middleware: /console and below to the console app, the rest to the API."""

    def __init__(self, app: ASGIApp, console: ASGIApp) -> None:
        self._app = app
        self._console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (path == PREFIX or path.startswith(PREFIX + "/")):
            if scope["type"] == "http" and authorization_headers(scope) > 1:
                await send_problem(send, 400, "bad_request", TWO_AUTHORIZATIONS)
                return
            await self._console(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def install_console(
    app: FastAPI,
    settings: Settings,
    keys: Keyring,
    engine: Engine,
    gateway: CasesSource,
    waits: ExpectedWaits,
    session_key: bytes,
    sign_outs: SignOuts,
    limits: FrontLimits | None = None,
) -> None:
    """Serve the console from `app`, over what the API is handed and the expected waits.
    `session_key` signs the session cookies and `sign_outs` records the sessions signed out: every
    API process of an installation must be given the same (bootstrap derives the key from the
    verification secret, and keeps sign-outs in the database, which they share)."""
    sessions = Sessions(session_key, keys, sign_outs)
    console = create_console(settings, engine, gateway, waits, sessions, limits, survey_key(session_key))
    app.add_middleware(ConsoleDispatch, console=console)

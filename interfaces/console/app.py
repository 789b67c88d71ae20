"""The support console: server-rendered pages at /console/ for engineers, customers' admins and
operators, over the same gateway (`application.cases.Cases`) and rules (`support.identity.access`) as the API.

Signed in with an API key once (the form's `token`); then a signed, HttpOnly, SameSite=Strict
session cookie (`interfaces.console.session`). Every form carries a CSRF token; every page knows its
principal and offers only what the role may do on that tenant (another tenant's case is 404). The
pages allow only their own origin (Content-Security-Policy); htmx is served from the repository.
It is an ASGI app of its own, in front of the API's bearer-token guard (`install_console`).

This module only composes: the shared machinery (`interfaces.console.kit.Console`), the one error
handler (`interfaces.console.errors`) and a router per page group.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from adapters.canned_replies import RepliesSource
from adapters.phrases import PhraseBook
from adapters.settings import PROJECT_ROOT, Settings
from application.case_thread import thread_over
from application.cases import CasesSource
from application.limits import FrontLimits
from interfaces.api.expected_wait import ExpectedWaits
from interfaces.console.case_routes import case_router
from interfaces.console.contact import contact_router
from interfaces.console.dashboard import install_dashboard
from interfaces.console.errors import install_console_errors
from interfaces.console.i18n import LANGUAGE_COOKIE, matched
from interfaces.console.kit import PREFIX, Console, environment
from interfaces.console.portal import PortalFront, install_portal
from interfaces.console.reports import reports_router
from interfaces.console.session import Sessions
from interfaces.console.signin import signin_router
from interfaces.console.whatif_routes import whatif_router
from interfaces.console.workspace import Pages, install_workspace
from support.case.numbers import CASE_REF

__all__ = ["CSP", "PREFIX", "SECURITY_HEADERS", "create_console"]

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_console(
    settings: Settings,
    engine: Engine,
    gateway: CasesSource,
    waits: ExpectedWaits,
    sessions: Sessions,
    limits: FrontLimits | None = None,
    survey_link_key: bytes = b"",
) -> FastAPI:
    """The console app; its routes are under /console/ (the dispatcher passes the path whole).
    `limits`: the API's, so a key and a client address have one budget for both fronts;
    `survey_link_key`: the survey mail's links' (support.messaging.survey_links; none: every link is
    refused)."""
    console = Console(
        settings=settings,
        engine=engine,
        gateway=gateway,
        waits=waits,
        sessions=sessions,
        limits=limits if limits is not None else FrontLimits.of(settings),
        thread=thread_over(engine),
        env=environment(),
        phrases=PhraseBook(PROJECT_ROOT / "templates" / "reasons"),
        replies=RepliesSource(settings.replies_path),
    )
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="static")
    install_console_errors(app, console)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"
        chosen = request.query_params.get("lang")
        if chosen and (lang := matched(chosen)) is not None:
            options = console.cookie_options(request)
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, **options)
        return response

    app.include_router(signin_router(console))
    # The queue's views, search and bulk actions, and the dashboard (their own modules)
    pages = Pages(
        settings, engine, console.signed_in, console.render, console.reader_zone, console.read_form,
        console.get_cases, console.policy_now,
    )  # fmt: skip
    install_workspace(app, pages)
    install_dashboard(app, pages)
    app.include_router(case_router(console))
    app.include_router(contact_router(console))
    app.include_router(reports_router(console))
    app.include_router(whatif_router(console))
    portal = PortalFront(
        engine, console.env, console.phrases, survey_link_key, console.signed_in, console.read_form,
        console.render, console.get_cases, console.reader_zone, waits.tenant_zone, console.language,
        console.thread, lambda case_id: CASE_REF.match(case_id) is not None,
    )  # fmt: skip
    install_portal(app, portal)
    return app

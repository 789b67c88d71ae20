"""What every console page uses, made once per console app and handed to each page group's router
(interfaces/console/{signin,case_routes,contact,reports,whatif_page,...}.py): the gateway, the
session, the reader's language and zone, rendering, and reading a posted form within its limits.

Everything is given to the constructor (`Console`); nothing is set on it afterwards.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.canned_replies import RepliesSource
from adapters.logging import get_logger
from adapters.phrases import PhraseBook
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT, Settings
from adapters.staff import StaffFileError, load_staff
from adapters.temporal import TemporalUnavailable
from application.case_thread import CaseThread
from application.cases import Cases, CasesSource, Unavailable
from application.errors import FrontError
from application.limits import FrontLimits, client_of
from interfaces.api.expected_wait import ExpectedWaits
from interfaces.console.forms import MAX_FORM_BYTES, parse_form
from interfaces.console.i18n import LANGUAGE_COOKIE, LANGUAGES, Words, negotiate
from interfaces.console.session import SESSION_COOKIE, Session, Sessions
from interfaces.console.words import Reading
from support.identity.access import Permission
from support.policies.policy import Policy, PolicyError
from support.wording.text_shapes import TENANT_ID_PATTERN

log = get_logger("casework.console")

TEMPLATES = PROJECT_ROOT / "templates" / "console"
PREFIX = "/console"
TENANT_ID = re.compile(TENANT_ID_PATTERN)


class SignInNeeded(Exception):
    """No valid session: a page sends the browser to the sign-in form."""


class BadForm(FrontError):
    """A form without this browser's CSRF token, or too large or unreadable: `status` with the
    page `key` (a phrase of templates/console)."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.page = key


def environment() -> jinja2.Environment:
    """The console's templates; times, waits and countdowns are said by the page's `Reader`
    (interfaces.console.words): in the reader's language and zone, with the zone named."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = lambda at: at.astimezone(UTC).isoformat() if at is not None else ""
    return env


@dataclass(frozen=True)
class Console:
    """The console's shared machinery. `limits`: the API's, so a key and a client address have
    one budget for both fronts; `thread`: the case's messages (application.case_thread)."""

    settings: Settings
    engine: Engine
    gateway: CasesSource
    waits: ExpectedWaits
    sessions: Sessions
    limits: FrontLimits
    thread: CaseThread
    env: jinja2.Environment
    phrases: PhraseBook
    replies: RepliesSource

    async def get_cases(self) -> Cases:
        try:
            return await self.gateway()
        except TemporalUnavailable as error:
            raise Unavailable(str(error)) from None

    async def policy_now(self) -> Policy:
        return await asyncio.to_thread(
            load_policy_snapshot, self.settings.policy_path, datetime.now(UTC).year
        )

    def language(self, request: Request) -> str:
        """The switch (`?lang=`, then its cookie), else the browser's languages."""
        chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
        return negotiate(chosen, request.headers.get("accept-language"))

    def cookie_options(self, request: Request) -> dict[str, Any]:
        """Cookies go out Secure always when the settings say so (behind a proxy that ends TLS,
        this app may see http), else when the request came over https."""
        secure = self.settings.console_secure_cookie or request.url.scheme == "https"
        return {"path": PREFIX, "httponly": True, "samesite": "strict", "secure": secure}

    async def session_of(self, request: Request) -> Session | None:
        """The request's session; the sign-out record is read in the database (503 if it cannot be:
        a signed-out cookie is never let through for want of an answer)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        await self.sessions.fresh()  # a key removed from the key file ends its sessions
        try:
            return await asyncio.to_thread(self.sessions.read, cookie)
        except SQLAlchemyError as error:
            log.warning("console sessions unreadable", error_type=type(error).__name__)
            raise Unavailable("the database does not answer") from None

    async def signed_in(self, request: Request) -> Session:
        limited = self.limits.client_request(client_of(request.scope))
        if limited is not None:
            raise limited
        session = await self.session_of(request)
        if session is None:
            raise SignInNeeded()
        limited = self.limits.key_request(session.principal.name)
        if limited is not None:
            raise limited
        return session

    def staff_zone(self, session: Session | None) -> str:
        """An engineer's or operator's zone (staff.toml `time_zone`), else the policy's support zone."""
        try:
            zones = load_staff(self.settings.staff_file).zones()
        except StaffFileError:
            zones = {}
        if session is not None and session.principal.name in zones:
            return zones[session.principal.name]
        try:
            return load_policy_snapshot(
                self.settings.policy_path, datetime.now(UTC).year
            ).routing.support_time_zone
        except (PolicyError, OSError):  # the page that says the file is bad still renders, in UTC
            return "UTC"

    async def reader_zone(self, session: Session, tenant_id: str | None = None) -> str:
        """The zone the reader reads times in: a customer's tenant's, else the staff member's."""
        principal = session.principal
        if tenant_id and not (TENANT_ID.match(tenant_id) and principal.sees(tenant_id)):
            tenant_id = None
        if principal.customer_side:
            tenant = tenant_id or next((t for t in principal.tenants if TENANT_ID.match(t)), None)
            zone = await self.waits.tenant_zone(tenant) if tenant else None
            if zone:
                return zone
        return await asyncio.to_thread(self.staff_zone, session)

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        session: Session | None = None,
        zone: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        lang = self.language(request)
        words = Words(TEMPLATES, lang)
        reader = Reading(words, self.phrases, zone or self.staff_zone(session))
        principal = session.principal if session is not None else None
        page = self.env.get_template(template).render(
            r=reader,
            t=words,
            lang=lang,
            languages=LANGUAGES,
            path=request.url.path,
            principal=principal,
            csrf=self.sessions.csrf(session.nonce) if session is not None else "",
            may=(lambda p: principal is not None and principal.allows(Permission(p))),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def reading(self, request: Request, zone: str) -> Reading:
        """How the page's reader reads words and times (its language, `zone`)."""
        return Reading(Words(TEMPLATES, self.language(request)), self.phrases, zone)

    async def read_body(self, request: Request, limit: int) -> bytes:
        """The body, refused (413) past `limit` bytes whatever its declared length."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise BadForm(413, "fix_fields")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise BadForm(413, "fix_fields")
        return bytes(body)

    async def read_form(
        self, request: Request, session: Session | None, nonce: str | None = None
    ) -> dict[str, str]:
        """The posted fields, after the size limit and the CSRF check."""
        form = parse_form(await self.read_body(request, MAX_FORM_BYTES))
        self.check_csrf(session.nonce if session is not None else nonce, form)
        return form

    def check_csrf(self, nonce: str | None, form: dict[str, str]) -> None:
        if not self.sessions.csrf_ok(nonce, form.get("csrf")):
            raise BadForm(403, "csrf")

    async def error_page(self, request: Request, status: int, key: str, detail: str = "") -> HTMLResponse:
        try:
            session = await self.session_of(request)
        except Unavailable:
            session = None  # the page that says so, without the signed-in parts
        return self.render(request, "error.html", status, session, key=key, detail=detail)

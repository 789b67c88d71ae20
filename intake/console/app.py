"""The support console: server-rendered pages at /console/ for engineers, customers' admins and
operators, over the same gateway (`intake.cases.Cases`) and rules (`support.access`) as the API.

Signed in with an API key once (the form's `token`); then a signed, HttpOnly, SameSite=Strict
session cookie (`intake.console.session`). Every form carries a CSRF token; every page knows its
principal and offers only what the role may do on that tenant (another tenant's case is 404). The
pages allow only their own origin (Content-Security-Policy); htmx is served from the repository.
It is an ASGI app of its own, in front of the API's bearer-token guard (`install_console`).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from adapters.canned_replies import RepliesSource
from adapters.codec import key_ring_from_env
from adapters.logging import get_logger
from adapters.phrases import PhraseBook
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT, Settings
from adapters.staff import StaffFileError, load_staff
from adapters.temporal import TemporalUnavailable
from intake.actions import ACTIONS, CASE_ACTIONS, CaseAction
from intake.case_thread import Comment, thread_over
from intake.cases import (
    ActionRejected,
    CaseNotFound,
    Cases,
    CasesSource,
    Forbidden,
    InvalidField,
    RequestConflict,
    TooManyOpenCases,
    Unavailable,
)
from intake.console.case_page import fill_reply, obligation_words, parts_of
from intake.console.contact_files import TooLargeForm, read_contact
from intake.console.dashboard import install_dashboard
from intake.console.forms import MAX_FORM_BYTES, model_input, parse_form
from intake.console.i18n import LANGUAGE_COOKIE, LANGUAGES, Words, matched, negotiate
from intake.console.ledger_bars import BAR_WIDTH as LEDGER_BAR_WIDTH
from intake.console.portal import PortalFront, install_portal
from intake.console.report_range import ReportRange, report_range
from intake.console.request_files import add_request_files
from intake.console.session import PRE_SESSION_COOKIE, SESSION_COOKIE, Session, Sessions, new_nonce
from intake.console.weekly import CHART_HEIGHT, Weekly, weekly, weekly_csv
from intake.console.whatif_page import (
    MAX_WHATIF_BYTES,
    FormUnreadable,
    WhatIfForm,
    checked_form,
    default_range,
    read_fields,
)
from intake.console.whatif_page import rows as whatif_rows
from intake.console.words import Reading
from intake.console.workspace import Pages, install_workspace
from intake.expected_wait_api import ExpectedWaits
from intake.limits import FrontLimits, RateLimited, client_of
from intake.opening_files import BadMultipart, FileTooLarge, Uploads, body_limit, with_files
from intake.whatif import build_whatif, whatif_phrases
from support.access import Permission, Principal
from support.case_numbers import NUMBER_PATTERN
from support.expected_wait import ExpectedWait
from support.policy import Policy, PolicyError
from support.reports import report_tenants
from support.request import CaseRequest
from support.text import REQUEST_ID_PATTERN, TENANT_ID_PATTERN
from support.thread import PAGE_MAX
from support.validation import field_errors
from support.vocabulary import CaseStatus, Category, ContactMethod, Severity, Via

log = get_logger("casework.console")

TEMPLATES = PROJECT_ROOT / "templates" / "console"
STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
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
CASE_ID = re.compile(  # a case's id or its number (CW-10482): the gateway resolves it
    "^(?:case-("
    + TENANT_ID_PATTERN.strip("^$")
    + r"\.)?"
    + REQUEST_ID_PATTERN.strip("^$")
    + "|"
    + NUMBER_PATTERN.strip("^$")
    + ")$"
)
TENANT_ID = re.compile(TENANT_ID_PATTERN)
Filter = Annotated[str | None, Query(max_length=64)]  # a query filter; checked in `filters`
RangeFrom = Annotated[str | None, Query(max_length=32, alias="from")]  # a report range's first day
RangeTo = Annotated[str | None, Query(max_length=32)]  # and its last


class SignInNeeded(Exception):
    """No valid session: a page sends the browser to the sign-in form."""


class BadForm(Exception):
    """A form without this browser's CSRF token, or too large to read."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    # Times, waits and countdowns are said by the page's `Reader` (intake.console.words): in the
    # reader's language and zone, with the zone named.
    env.filters["iso"] = lambda at: at.astimezone(UTC).isoformat() if at is not None else ""
    return env


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
    `survey_link_key`: the survey mail's links' (support.survey_links; none: every link is refused)."""
    env = _environment()
    phrases = PhraseBook(PROJECT_ROOT / "templates" / "reasons")
    limits = limits if limits is not None else FrontLimits.of(settings)
    thread = thread_over(engine)
    replies = RepliesSource(settings.replies_path)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC)), name="static")

    async def policy_now() -> Policy:
        return await asyncio.to_thread(load_policy_snapshot, settings.policy_path, datetime.now(UTC).year)

    async def get_cases() -> Cases:
        try:
            cases = await gateway()
        except TemporalUnavailable as error:
            raise Unavailable(str(error)) from None
        if cases.openings is None:  # new cases an hour per tenant, counted with the API's
            cases.openings = limits.openings
        return cases

    def language(request: Request) -> str:
        """The switch (`?lang=`, then its cookie), else the browser's languages."""
        chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
        return negotiate(chosen, request.headers.get("accept-language"))

    def secure(request: Request) -> bool:
        """Whether cookies go out Secure: always when the settings say so (behind a proxy that ends
        TLS, this app may see http), else when the request came over https."""
        return settings.console_secure_cookie or request.url.scheme == "https"

    def cookie_options(request: Request) -> dict[str, Any]:
        return {"path": PREFIX, "httponly": True, "samesite": "strict", "secure": secure(request)}

    async def session_of(request: Request) -> Session | None:
        """The request's session; the sign-out record is read in the database (503 if it cannot be:
        a signed-out cookie is never let through for want of an answer)."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        await sessions.fresh()  # a key removed from the key file ends its sessions
        try:
            return await asyncio.to_thread(sessions.read, cookie)
        except SQLAlchemyError as error:
            log.warning("console sessions unreadable", error_type=type(error).__name__)
            raise Unavailable("the database does not answer") from None

    async def signed_in(request: Request) -> Session:
        limited = limits.client_request(client_of(request.scope))
        if limited is not None:
            raise limited
        session = await session_of(request)
        if session is None:
            raise SignInNeeded()
        limited = limits.key_request(session.principal.name)
        if limited is not None:
            raise limited
        return session

    def staff_zone(session: Session | None) -> str:
        """An engineer's or operator's zone (staff.toml `time_zone`), else the policy's support zone."""
        try:
            zones = load_staff(settings.staff_file).zones()
        except StaffFileError:
            zones = {}
        if session is not None and session.principal.name in zones:
            return zones[session.principal.name]
        try:
            return load_policy_snapshot(
                settings.policy_path, datetime.now(UTC).year
            ).routing.support_time_zone
        except (PolicyError, OSError):  # the page that says the file is bad still renders, in UTC
            return "UTC"

    async def reader_zone(session: Session, tenant_id: str | None = None) -> str:
        """The zone the reader reads times in: a customer's tenant's, else the staff member's."""
        principal = session.principal
        if tenant_id and not (TENANT_ID.match(tenant_id) and principal.sees(tenant_id)):
            tenant_id = None
        if principal.customer_side:
            tenant = tenant_id or next((t for t in principal.tenants if TENANT_ID.match(t)), None)
            zone = await waits.tenant_zone(tenant) if tenant else None
            if zone:
                return zone
        return await asyncio.to_thread(staff_zone, session)

    def render(
        request: Request,
        template: str,
        status: int = 200,
        session: Session | None = None,
        zone: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        lang = language(request)
        words = Words(TEMPLATES, lang)
        reader = Reading(words, phrases, zone or staff_zone(session))
        principal = session.principal if session is not None else None
        page = env.get_template(template).render(
            r=reader,
            t=words,
            lang=lang,
            languages=LANGUAGES,
            path=request.url.path,
            principal=principal,
            csrf=sessions.csrf(session.nonce) if session is not None else "",
            may=(lambda p: principal is not None and principal.allows(Permission(p))),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    async def read_body(request: Request, limit: int) -> bytes:
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
        request: Request, session: Session | None, nonce: str | None = None
    ) -> dict[str, str]:
        """The posted fields, after the size limit and the CSRF check."""
        form = parse_form(await read_body(request, MAX_FORM_BYTES))
        expected = session.nonce if session is not None else nonce
        if not sessions.csrf_ok(expected, form.get("csrf")):
            raise BadForm(403, "csrf")
        return form

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(f"{PREFIX}/static/"):
            response.headers["Cache-Control"] = "no-store"
        chosen = request.query_params.get("lang")
        if chosen and (lang := matched(chosen)) is not None:
            response.set_cookie(LANGUAGE_COOKIE, lang, max_age=365 * 86400, **cookie_options(request))
        return response

    async def error_page(request: Request, status: int, key: str, detail: str = "") -> HTMLResponse:
        try:
            session = await session_of(request)
        except Unavailable:
            session = None  # the page that says so, without the signed-in parts
        return render(request, "error.html", status, session, key=key, detail=detail)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _: SignInNeeded) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/sign-in"})
        return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, error: BadForm) -> HTMLResponse:
        return await error_page(request, error.status, error.key)

    @app.exception_handler(CaseNotFound)
    async def _not_found(request: Request, _: CaseNotFound) -> HTMLResponse:
        return await error_page(request, 404, "not_found")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, error: Forbidden) -> HTMLResponse:
        return await error_page(request, 403, "forbidden", str(error))

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, _: Unavailable) -> HTMLResponse:
        return await error_page(request, 503, "unavailable")

    @app.exception_handler(PolicyError)  # a bad policy.toml: 503 with its own error, not a 500
    async def _policy_invalid(request: Request, error: PolicyError) -> HTMLResponse:
        problem = str(error).splitlines()[0].replace(str(settings.policy_path), settings.policy_path.name, 1)
        log.error("policy file invalid", problem=problem)
        return await error_page(request, 503, "unavailable", f"the policy file is invalid: {problem}")

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, error: RateLimited) -> HTMLResponse:
        page = await error_page(request, 429, "error", str(error))
        page.headers["Retry-After"] = str(int(error.retry_after))
        return page

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, error: RPCError) -> HTMLResponse:
        log.warning("Temporal error in the console", status=error.status.name if error.status else None)
        return await error_page(request, 503, "unavailable")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> HTMLResponse:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in field_errors(error.errors()))
        return await error_page(request, 422, "fix_fields", problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> HTMLResponse:
        return await error_page(
            request, error.status_code, "not_found" if error.status_code == 404 else "error"
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> HTMLResponse:
        log.error("unexpected error in the console", error_type=type(error).__name__)
        return await error_page(request, 500, "error")

    # Signing in and out

    @app.get(PREFIX)
    @app.get(f"{PREFIX}/")
    async def home(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        if session.principal.allows(Permission.READ_CASES):
            return RedirectResponse(f"{PREFIX}/queue", status_code=303)
        return RedirectResponse(f"{PREFIX}/reports", status_code=303)

    def sign_in_page(
        request: Request, status: int = 200, problem: str = "", retry_after: int = 0
    ) -> HTMLResponse:
        nonce = new_nonce()
        response = render(
            request,
            "sign_in.html",
            status,
            None,
            problem=problem,
            retry_after=retry_after,
            pre_csrf=sessions.csrf(nonce),
        )
        response.set_cookie(PRE_SESSION_COOKIE, nonce, **cookie_options(request))
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.get(f"{PREFIX}/sign-in")
    async def sign_in_form(request: Request) -> HTMLResponse:
        return sign_in_page(request)

    @app.post(f"{PREFIX}/sign-in")
    async def sign_in(request: Request) -> Response:
        """A sign-in: limited per client address with the API's wrong tokens (a failure counts
        there and is logged, the key masked); an address with too many is told when to try again."""
        client = client_of(request.scope)
        locked = limits.locked_out(client)
        if locked is not None:
            return sign_in_page(request, 429, "too_many_sign_ins", locked.retry_after)
        limited = limits.client_request(client)
        if limited is not None:
            raise limited
        form = await read_form(request, None, request.cookies.get(PRE_SESSION_COOKIE))
        token = form.get("token", "").strip()
        await sessions.fresh()  # the key file as it is now
        signed = sessions.sign_in(token) if token else None
        if signed is None:
            if token:
                limits.failed_sign_in(client, token, "console")
            return sign_in_page(request, 401, "bad_token")
        principal, cookie = signed
        log.info("console sign-in", key=principal.name, role=principal.role.value)
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.set_cookie(SESSION_COOKIE, cookie, max_age=sessions.lifetime, **cookie_options(request))
        response.delete_cookie(PRE_SESSION_COOKIE, **cookie_options(request))
        return response

    @app.post(f"{PREFIX}/sign-out")
    async def sign_out(request: Request) -> Response:
        session = await signed_in(request)
        await read_form(request, session)
        try:
            await asyncio.to_thread(sessions.sign_out, session)  # for every API process
        except SQLAlchemyError as error:
            log.warning("console sign-out not recorded", error_type=type(error).__name__)
            raise Unavailable("the database does not answer") from None
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, **cookie_options(request))
        return response

    # The queue

    def filters(severity: str | None, tenant: str | None, status: str | None) -> dict[str, Any]:
        """The queue's filters; an unknown value is a field error, never a 500."""
        chosen: dict[str, Any] = {"severity": None, "tenant_id": None, "status": None}
        problems = []
        if severity:
            try:
                chosen["severity"] = Severity(severity)
            except ValueError:
                problems.append({"loc": ("query", "severity"), "msg": "not a severity", "type": "value"})
        if tenant:
            if TENANT_ID.match(tenant):
                chosen["tenant_id"] = tenant
            else:
                problems.append({"loc": ("query", "tenant"), "msg": "not a tenant id", "type": "value"})
        if status:
            try:
                chosen["status"] = CaseStatus(status)
            except ValueError:
                problems.append({"loc": ("query", "status"), "msg": "not a status", "type": "value"})
        if problems:
            raise RequestValidationError(problems)
        return chosen

    # The queue's views, search and bulk actions, and the dashboard (their own modules)
    pages = Pages(settings, engine, signed_in, render, reader_zone, read_form, get_cases, policy_now)
    install_workspace(app, pages)
    install_dashboard(app, pages)

    # The case page and its actions

    def allowed_actions(principal: Principal) -> list[CaseAction]:
        return [a for a in CASE_ACTIONS if principal.allows(a.permission)]

    async def case_page(
        request: Request,
        session: Session,
        case_id: str,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        if not CASE_ID.match(case_id):
            raise CaseNotFound(case_id)
        cases = await get_cases()
        # the view, the actions it takes and its clocks from one query (issue 26)
        view, basis = await cases.show_with_basis(case_id, session.principal, language(request))
        zone = await reader_zone(session, view.tenant_id)
        reader = Reading(Words(TEMPLATES, language(request)), phrases, zone)
        parts = parts_of(
            view, basis, session.principal, allowed_actions(session.principal),
            await policy_now(), settings.staff_file, replies, reader, datetime.now(UTC),
        )  # fmt: skip
        messages = await thread.page(cases, case_id, session.principal, None, PAGE_MAX, shown=view)
        return render(
            request,
            "case.html",
            status,
            session,
            zone=zone,
            view=view,
            parts=parts,
            bar_width=LEDGER_BAR_WIDTH,
            forms=parts.offers,
            obligations=obligation_words(view),
            done=request.query_params.get("done", ""),
            messages=messages,
            may_comment=session.principal.customer_side,
            comment_id=secrets.token_hex(8),  # one message however often the form is sent
            **context,
        )

    @app.get(f"{PREFIX}/cases/{{case_id}}")
    async def show_case(request: Request, case_id: str) -> Response:
        session = await signed_in(request)
        if session.principal.customer_side:  # the customer's page: what they are promised, no SLA mechanics
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"{PREFIX}/requests/{case_id}{query}", status_code=303)
        return await case_page(request, session, case_id)

    @app.post(f"{PREFIX}/cases/{{case_id}}/actions/{{name}}")
    async def act(request: Request, case_id: str, name: str) -> Response:
        session = await signed_in(request)
        form = await read_form(request, session)
        action = ACTIONS.get(name)
        if action is None or not CASE_ID.match(case_id):
            raise CaseNotFound(case_id)
        principal = session.principal
        if not principal.allows(action.permission):
            raise Forbidden(f"a {principal.role.value} key cannot {action.name}")
        if form.get("use") is not None:  # a canned reply chosen: the form again, filled with it
            values = await fill_reply(form, replies, await get_cases(), case_id, session.principal)
            return await case_page(request, session, case_id, failed=name, problems={}, values=values)
        model = action.body_model()
        try:
            body = model.model_validate(model_input(model, form))
        except ValidationError as error:
            problems = {e["field"]: e["message"] for e in field_errors(error)}
            return await case_page(
                request, session, case_id, 422, failed=name, problems=problems, values=form
            )
        cases = await get_cases()
        try:
            await cases.perform(action, case_id, action.payload(body, principal.name, Via.CONSOLE), principal)
        except (ActionRejected, InvalidField) as error:
            problems = {error.field: str(error)} if isinstance(error, InvalidField) else {}
            return await case_page(
                request,
                session,
                case_id,
                409 if isinstance(error, ActionRejected) else 422,
                failed=name,
                refusal=str(error) if not problems else "",
                problems=problems,
                values=form,
            )
        return RedirectResponse(f"{PREFIX}/cases/{case_id}?done={name}", status_code=303)

    @app.post(f"{PREFIX}/cases/{{case_id}}/messages")
    async def comment(request: Request, case_id: str) -> Response:
        """The customer's comment box: the same event as a reply by email (intake.case_thread)."""
        session = await signed_in(request)
        form = await read_form(request, session)
        if not CASE_ID.match(case_id):
            raise CaseNotFound(case_id)
        cases = await get_cases()
        try:
            written = Comment.model_validate(
                {"request_id": form.get("request_id", ""), "body": form.get("body", "")}
            )
            await thread.comment(cases, case_id, session.principal, written)
        except ValidationError as error:
            problems = {e["field"]: e["message"] for e in field_errors(error)}
            return await case_page(
                request, session, case_id, 422, failed="comment", problems=problems, values=form
            )
        except ActionRejected as error:
            return await case_page(
                request, session, case_id, 409, failed="comment", refusal=str(error), problems={}, values=form
            )
        return RedirectResponse(f"{PREFIX}/cases/{case_id}?done=comment#thread", status_code=303)

    add_request_files(app, PREFIX, engine, signed_in, get_cases, CASE_ID)  # files of the case
    uploads = Uploads(engine, settings)  # the Contact form's files (intake.opening_files)

    # Contact support

    def contact_tenants(principal: Principal) -> list[str]:
        """The tenants the form offers: the key's own; an empty list means a free tenant field."""
        return [] if principal.all_tenants else list(principal.tenants)

    def may_open(session: Session) -> Principal:
        principal = session.principal
        if not principal.allows(Permission.OPEN_CASE):
            raise Forbidden(f"a {principal.role.value} key cannot open cases")
        return principal

    async def wait_for(
        principal: Principal, tenant: str, category: str, severity: str
    ) -> ExpectedWait | None:
        try:
            chosen = (Category(category), Severity(severity))
        except ValueError:
            return None
        if not TENANT_ID.match(tenant):
            return None
        try:
            return await waits.answer(principal, tenant, *chosen)
        except (CaseNotFound, Forbidden):
            return None

    def contact_context(principal: Principal, values: dict[str, str]) -> dict[str, Any]:
        tenants = contact_tenants(principal)
        defaults = {
            "tenant": tenants[0] if tenants else "",
            "category": Category.TECHNICAL.value,
            "severity": Severity.B.value,
            "preferred_contact": ContactMethod.EMAIL.value,
            "request_id": "web-" + secrets.token_hex(8),
        }
        return {
            "tenants": tenants,
            "categories": [c.value for c in Category],
            "severities": [s.value for s in Severity],
            "methods": [m.value for m in ContactMethod],
            "values": defaults | {k: v for k, v in values.items() if k != "csrf"},
            "max_files": uploads.max_files,
            "max_file_mb": round(uploads.max_bytes / 1024 / 1024, 1),
        }

    @app.get(f"{PREFIX}/contact")
    async def contact(request: Request) -> HTMLResponse:
        session = await signed_in(request)
        principal = may_open(session)
        context = contact_context(principal, {})
        values = context["values"]
        wait = await wait_for(principal, values["tenant"], values["category"], values["severity"])
        zone = await reader_zone(session, values["tenant"])
        return render(request, "contact.html", 200, session, zone, wait=wait, problems={}, **context)

    @app.get(f"{PREFIX}/contact/wait")
    async def contact_wait(
        request: Request,
        tenant: Annotated[str, Query(max_length=64)] = "",
        category: Annotated[str, Query(max_length=32)] = "",
        severity: Annotated[str, Query(max_length=8)] = "",
    ) -> HTMLResponse:
        """The expected-wait panel alone, for htmx when the category or severity changes."""
        session = await signed_in(request)
        principal = may_open(session)
        wait = await wait_for(principal, tenant, category, severity)
        return render(request, "wait.html", 200, session, await reader_zone(session, tenant), wait=wait)

    @app.post(f"{PREFIX}/contact")
    async def open_case(request: Request) -> HTMLResponse:
        session = await signed_in(request)
        principal = may_open(session)
        try:  # the form with its files (intake.console.contact_files): bounded, then the CSRF check
            form, files = await read_contact(request, body_limit(settings), uploads.max_files)
        except TooLargeForm:
            raise BadForm(413, "fix_fields") from None
        except BadMultipart:
            form, files = {}, []
        if not sessions.csrf_ok(session.nonce, form.get("csrf")):
            raise BadForm(403, "csrf")
        values = {k: v for k, v in form.items() if k != "csrf"}
        data: dict[str, Any] = {
            "request_id": values.get("request_id", ""),
            "tenant_id": values.get("tenant", ""),
            "requester": values.get("requester", ""),
            "category": values.get("category", ""),
            "severity": values.get("severity", ""),
            "title": values.get("title", ""),
            "description": values.get("description", ""),
            "contact_email": values.get("contact_email", ""),
            "preferred_contact": values.get("preferred_contact", "email"),
            "language": language(request),
        }
        if values.get("contact_phone"):
            data["contact_phone"] = values["contact_phone"]
        problems: dict[str, str] = {}
        try:
            case_request = CaseRequest.model_validate(data)
            case_request = await with_files(uploads, principal, case_request, files)
        except ValidationError as error:
            renamed = {"tenant_id": "tenant"}
            problems = {renamed.get(e["field"], e["field"]): e["message"] for e in field_errors(error)}
        except (FileTooLarge, Forbidden) as error:
            problems = {"files": str(error)}
        if problems:
            context = contact_context(principal, values)
            wait = await wait_for(principal, values.get("tenant", ""), data["category"], data["severity"])
            zone = await reader_zone(session, values.get("tenant"))
            return render(
                request, "contact.html", 422, session, zone, wait=wait, problems=problems, **context
            )
        cases = await get_cases()
        try:
            Cases.authorise_opening(case_request, principal)
            opened = await cases.open(case_request, principal)
        except (InvalidField, RequestConflict, TooManyOpenCases) as error:
            field = error.field if isinstance(error, InvalidField) else "request_id"
            context = contact_context(principal, values)
            wait = await wait_for(principal, case_request.tenant_id, data["category"], data["severity"])
            zone = await reader_zone(session, case_request.tenant_id)
            return render(
                request,
                "contact.html",
                422,
                session,
                zone,
                wait=wait,
                problems={field: str(error)},
                **context,
            )
        wait = await wait_for(principal, case_request.tenant_id, data["category"], data["severity"])
        zone = await reader_zone(session, case_request.tenant_id)
        return render(request, "acknowledged.html", 201, session, zone, view=opened.case, wait=wait)

    # Reports

    @app.get(f"{PREFIX}/reports")
    async def reports(
        request: Request, tenant: Filter = None, from_: RangeFrom = None, to: RangeTo = None
    ) -> HTMLResponse:
        session, zone, chosen, report = await report_for(request, tenant, from_, to)
        return render(
            request,
            "reports.html",
            422 if chosen.problems else 200,
            session,
            zone,
            report=report,
            chosen=chosen,
            chart_height=CHART_HEIGHT,
            tenant=tenant or "",
        )

    @app.get(f"{PREFIX}/reports.csv")
    async def reports_csv(
        request: Request, tenant: Filter = None, from_: RangeFrom = None, to: RangeTo = None
    ) -> Response:
        _, _, chosen, report = await report_for(request, tenant, from_, to)
        if report is None:
            raise InvalidField("to", "; ".join(chosen.problems.values()))
        return Response(
            weekly_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="first-response-by-week.csv"'},
        )

    async def report_for(
        request: Request, tenant: str | None, first: str | None, last: str | None
    ) -> tuple[Session, str, ReportRange, Weekly | None]:
        """The range's report in the reader's zone; a bad range counts nothing (its problems)."""
        session = await signed_in(request)
        principal = session.principal
        if not principal.allows(Permission.READ_REPORTS):
            raise Forbidden(f"a {principal.role.value} key cannot read reports")
        chosen_tenant = filters(None, tenant, None)["tenant_id"]
        zone = await reader_zone(session, chosen_tenant)
        now = datetime.now(UTC)
        chosen = report_range(first, last, zone, now)
        if chosen.window is None:
            return session, zone, chosen, None
        cases = await get_cases()
        scope = report_tenants(principal, chosen_tenant)
        return session, zone, chosen, await weekly(engine, cases.client, scope, now, chosen.window, zone)

    # The policy what-if (operators): the form, then the figures side by side and the flips

    async def operator_session(request: Request) -> Session:
        session = await signed_in(request)
        if not session.principal.allows(Permission.OPERATE):  # the inputs hold what customers wrote
            raise Forbidden("")
        return session

    def whatif_page(
        request: Request, status: int, session: Session, zone: str, **context: Any
    ) -> HTMLResponse:
        words = whatif_phrases(language(request))
        return render(request, "whatif.html", status, session, zone, w=words, **context)

    @app.get(f"{PREFIX}/whatif")
    async def whatif_form(request: Request) -> HTMLResponse:
        session = await operator_session(request)
        zone = await reader_zone(session)
        first, last = default_range(zone, datetime.now(UTC))
        policy = await asyncio.to_thread(settings.policy_path.read_text, encoding="utf-8")
        form = WhatIfForm(policy=policy, first=first, last=last, tenant="")
        return whatif_page(request, 200, session, zone, form=form, result=None)

    @app.post(f"{PREFIX}/whatif")
    async def whatif_run(request: Request) -> HTMLResponse:
        session = await operator_session(request)
        try:
            fields = read_fields(
                request.headers.get("content-type", ""), await read_body(request, MAX_WHATIF_BYTES)
            )
        except FormUnreadable:
            raise BadForm(400, "fix_fields") from None
        if not sessions.csrf_ok(session.nonce, fields.get("csrf")):
            raise BadForm(403, "csrf")
        zone, now = await reader_zone(session), datetime.now(UTC)
        form = checked_form(fields, zone, now, whatif_phrases(language(request)))
        if form.problems or form.window is None or form.proposed is None:
            return whatif_page(request, 422, session, zone, form=form, result=None)
        cases = await get_cases()
        tenants = (form.tenant,) if form.tenant else None
        report = await build_whatif(
            engine, cases.client, form.window, tenants, form.proposed, now, key_ring_from_env()
        )
        return whatif_page(request, 200, session, zone, form=form, result=report, rows=whatif_rows(report))

    install_portal(
        app,
        PortalFront(
            engine,
            env,
            phrases,
            survey_link_key,
            signed_in,
            read_form,
            render,
            get_cases,
            reader_zone,
            waits.tenant_zone,
            language,
            thread,
            lambda case_id: CASE_ID.match(case_id) is not None,
        ),
    )
    return app

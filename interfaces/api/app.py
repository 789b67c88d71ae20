"""The intake's HTTP API (FastAPI). Same code path as the CLI: `application.cases.Cases`.

Every request names its principal with a bearer token (an API key of `service.api_keys`), checked
by `application.guard.Guard` before any body is read; each route then allows only what that role may do
on that tenant (`support.identity.access`): another tenant's case is 404. Errors have one shape,
`{"error", "message", "fields"}`: 400 more than one Authorization header, 401 no or wrong token,
403 the role may not, 404 unknown case, 409 the case refused the action (with its reason) or a
request id reused for another request, 413 body too large, 422 invalid input (one entry per
field), 429 a limit (with Retry-After), 503 Temporal unreachable. No stack trace ever reaches a
caller.

The app is handed what it uses (keys, database engine, the gateway); it opens nothing itself.
`bootstrap/api.py` builds it: over the worker's own client and engine in `make run`
(`worker.py --api`), over a database and a connection of its own in `starter.py serve`.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, ValidationError
from sqlalchemy import Engine

from adapters.api_keys import Keyring
from adapters.logging import get_logger
from adapters.policy_file import policy_problem
from adapters.settings import Settings
from adapters.temporal import TemporalUnavailable
from application.actions import CASE_ACTIONS, CaseAction
from application.case_listing import CURSOR_MAX, CaseFilter, CaseSummary, ListOrder
from application.case_thread import thread_over
from application.cases import (
    Cases,
    CasesSource,
    Forbidden,
    OpenedCase,
    Unavailable,
)
from application.guard import Guard
from application.ledgers import read_ledger
from application.limits import FrontLimits
from application.opening_files import Uploads
from application.reports import build_sla_report
from interfaces.api.attachments import attachments_router
from interfaces.api.docs import install_docs
from interfaces.api.errors import ERRORS, install_api_errors
from interfaces.api.opening import MULTIPART_OPENING, MultipartOpening, larger_bodies, uploads_router
from interfaces.api.thread import thread_router
from interfaces.api.whatif import whatif_router
from support.case.action_receipt import ActionReceipt
from support.case.numbers import CASE_ID_PATTERN, CASE_REF_PATTERN
from support.case.view import CaseView
from support.identity.access import Permission, Principal, Role
from support.identity.verification import VerificationAttempt, VerificationResult
from support.policies.vocabulary import CaseStatus, Category, Severity, Via
from support.reporting.reports import ReportWindow, SlaReport, report_csv, report_tenants
from support.rules.request import CaseRequest
from support.sla_clocks.ledger import CaseLedger
from support.wording.text_shapes import LINE_MAX, NAME_PATTERN, TENANT_ID_PATTERN

log = get_logger("casework.api")

# A route's case: its id or its number (CW-10482), resolved by the gateway (`Cases.case_id_of`).
CaseId = Annotated[
    str,
    Path(
        pattern=CASE_REF_PATTERN,
        description="case-<tenant>.<request_id>, or the case's number",
        examples=["case-contoso.r-1", "CW-10482"],
    ),
]


bearer = HTTPBearer(auto_error=False, description="an API key's token (see docs/security.md)")


def principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """Set by the guard for every route that is not public (`bearer` only declares the scheme
    in the OpenAPI document, so Swagger UI's Authorize button sends the token)."""
    found: Principal = request.state.principal
    return found


Caller = Annotated[Principal, Depends(principal)]
CasesDependency = Callable[[], Awaitable[Cases]]


def health_router(policy_path: FilePath) -> APIRouter:
    """GET /healthz (public)."""
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """200 while the API serves; `degraded` with the reason while new cases cannot be decided."""
        problem = await asyncio.to_thread(policy_problem, policy_path)
        if problem is not None:
            return {"status": "degraded", "reason": f"new cases wait: the policy file is invalid: {problem}"}
        return {"status": "ok"}

    return router


def cases_router(get_cases: CasesDependency) -> APIRouter:
    """POST /cases, GET /cases, GET /cases/{case_id} and its ledger."""
    router = APIRouter()
    Gateway = Annotated[Cases, Depends(get_cases)]

    @router.post(
        "/cases",
        response_model=OpenedCase,
        status_code=201,
        responses={200: {"model": OpenedCase}, **ERRORS},
        openapi_extra=MULTIPART_OPENING,  # files with the request: interfaces.api.opening
    )
    async def open_case(
        request: CaseRequest, response: Response, caller: Caller, cases: Gateway
    ) -> OpenedCase:
        """Open a case (portal and phone keys, for their tenants; operators). `request_id` is the
        tenant's idempotency key: the same id and body again return the same case (200, not counted
        against the tenant's openings an hour); the same id with another body is a 409. The
        requester is an address of the tenant in the directory (or the key's own name). Phone
        intake (`caller_number`) needs a phone key. Files: name uploads (POST /attachments) in
        `attachments`, or send multipart/form-data with the JSON as `request` and `files` parts."""
        opened = await cases.open(request, caller)  # only a new case counts against the tenant's openings
        response.status_code = status.HTTP_201_CREATED if opened.created else status.HTTP_200_OK
        return opened

    @router.get("/cases", response_model=list[CaseSummary], responses=ERRORS)
    async def list_cases(
        request: Request,
        response: Response,
        caller: Caller,
        cases: Gateway,
        status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
        severity: Severity | None = None,
        category: Category | None = None,
        tenant: Annotated[str | None, Query(pattern=TENANT_ID_PATTERN)] = None,
        assignee: Annotated[
            str | None, Query(pattern=NAME_PATTERN, description="the assigned engineer's staff name")
        ] = None,
        requester: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=LINE_MAX,
                pattern=r"^[^\x00-\x1f\x7f-\x9f]+$",
                description="the requester's sign-in name (with `tenant`); matched by a keyed digest",
            ),
        ] = None,
        order: Annotated[
            ListOrder,
            Query(description="`started`: newest first; `deadline`: least time to the next deadline first"),
        ] = ListOrder.STARTED,
        cursor: Annotated[
            str | None,
            Query(max_length=CURSOR_MAX, description="the next page's cursor (the `Next-Cursor` header)"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[CaseSummary]:
        """Cases of the key's tenants (every tenant for agents and operators), a page at a time:
        when there are more, the `Link` header names the next page (`rel="next"`) and
        `Next-Cursor` carries its cursor. Needs `read_cases`."""
        wanted = CaseFilter(
            statuses=() if status_ is None else (status_,),
            severity=severity,
            category=category,
            tenant_id=tenant,
            assignee=assignee,
        )
        page = await cases.page(
            wanted, principal=caller, order=order, cursor=cursor, limit=limit, requester=requester
        )
        if page.next_cursor is not None:
            following = request.url.include_query_params(cursor=page.next_cursor)
            response.headers["Link"] = f'<{following}>; rel="next"'
            response.headers["Next-Cursor"] = page.next_cursor
        return page.cases

    @router.get("/cases/{case_id}", response_model=CaseView, responses=ERRORS)
    async def show_case(case_id: CaseId, caller: Caller, cases: Gateway) -> CaseView:
        """One case, if it is of the key's tenants (otherwise 404). Needs `read_cases`."""
        return await cases.show(case_id, caller)

    @router.get("/cases/{case_id}/ledger", response_model=CaseLedger, responses=ERRORS)
    async def case_ledger(case_id: CaseId, caller: Caller, cases: Gateway) -> CaseLedger:
        """The case's SLA ledger now: each clock's segments and business time, and who held the
        case while it ran (portal keys: without staff names; another tenant's case: 404). Needs
        `read_cases`."""
        return await read_ledger(cases, case_id, caller, datetime.now(UTC))

    return router


def reports_router(get_cases: CasesDependency, engine: Engine) -> APIRouter:
    """GET /reports/sla (JSON or CSV)."""
    router = APIRouter()
    Gateway = Annotated[Cases, Depends(get_cases)]

    @router.get(
        "/reports/sla",
        response_model=SlaReport,
        responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "the report (JSON or CSV)"}},
    )
    async def sla_report(
        caller: Caller,
        cases: Gateway,
        since: Annotated[AwareDatetime, Query(description="ISO 8601 with offset; cases opened from then")],
        until: Annotated[AwareDatetime, Query(description="ISO 8601 with offset; cases opened before then")],
        tenant: Annotated[str | None, Query(pattern=TENANT_ID_PATTERN)] = None,
        format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    ) -> Any:
        """SLA and satisfaction report of the cases opened in [since, until) (docs/reports.md): every
        tenant for operators, their own for portal and phone keys (another tenant: an empty report).
        Needs `read_reports`."""
        if not caller.allows(Permission.READ_REPORTS):
            raise Forbidden(f"a {caller.role.value} key cannot read reports")
        try:
            window = ReportWindow(since=since, until=until)
        except ValidationError as error:
            raise RequestValidationError(
                [
                    {"loc": ("query", *(e["loc"] or ("until",))), "msg": e["msg"], "type": e["type"]}
                    for e in error.errors()
                ]
            ) from None
        tenants = report_tenants(caller, tenant)
        operator = caller.role is Role.OPERATOR  # who held each clock names staff: operators only
        report = await build_sla_report(engine, cases.client, window, tenants, datetime.now(UTC), operator)
        if format_ == "csv":
            return Response(report_csv(report), media_type="text/csv; charset=utf-8")
        return report

    return router


def actions_router(get_cases: CasesDependency) -> APIRouter:
    """POST /cases/{case_id}/verification, and POST /cases/{case_id}/<path> per action of the table."""
    router = APIRouter()
    Gateway = Annotated[Cases, Depends(get_cases)]

    @router.post("/cases/{case_id}/verification", response_model=VerificationResult, responses=ERRORS)
    async def verify(
        case_id: CaseId, attempt: VerificationAttempt, response: Response, caller: Caller, cases: Gateway
    ) -> VerificationResult:
        """Check a phone intake's one-time code: 200 when verified, 403 with the attempts left when
        not. Needs the `customer_action` permission (portal and phone keys, operators)."""
        result = await cases.verify(case_id, attempt, caller)
        response.status_code = status.HTTP_200_OK if result.verified else status.HTTP_403_FORBIDDEN
        return result

    def route(action: CaseAction) -> None:
        """POST /cases/{case_id}/<path> for one action of the table, allowed to its roles only."""

        async def endpoint(case_id: CaseId, body: Any, caller: Caller, cases: Gateway) -> ActionReceipt:
            return await cases.perform(action, case_id, action.payload(body, caller.name, Via.API), caller)

        endpoint.__annotations__["body"] = action.body_model()
        router.post(
            f"/cases/{{case_id}}/{action.path}",
            response_model=ActionReceipt,  # the view: GET /cases/{case_id}
            responses=ERRORS,
            summary=action.summary,
            description=f"Needs the `{action.permission.value}` permission.",
            name=action.name,
        )(endpoint)

    for action in CASE_ACTIONS:
        route(action)
    return router


def create_app(
    settings: Settings,
    keys: Keyring,
    engine: Engine,
    gateway: CasesSource,
    limits: FrontLimits | None = None,
) -> FastAPI:
    """The app over what it is handed: the principals (`keys`), the database the reports read
    (`engine`), the gateway to the cases (which may connect to Temporal when first asked; an
    unreachable Temporal is a 503) and the limits it shares with the console (`limits`, else its
    own from the settings)."""
    limits = limits if limits is not None else FrontLimits.of(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not len(keys):
            log.warning("no API keys configured: every request will be refused (401)")
        yield

    app = FastAPI(
        title="casework intake API",
        version="1.0",
        description="Open support cases and drive them. Every case is a durable workflow. "
        "Authenticate with `Authorization: Bearer <API key>`; what a key may do depends on its role.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    install_api_errors(app, settings.policy_path)  # the one handler: interfaces.api.errors

    async def get_cases() -> Cases:
        try:
            return await gateway()
        except TemporalUnavailable as error:
            raise Unavailable(str(error)) from None

    app.include_router(health_router(settings.policy_path))
    app.include_router(cases_router(get_cases))
    app.include_router(reports_router(get_cases, engine))
    app.include_router(actions_router(get_cases))
    app.include_router(attachments_router(engine, get_cases, CASE_ID_PATTERN, ERRORS))
    thread = thread_over(engine)
    app.include_router(thread_router(thread, get_cases, CASE_ID_PATTERN, ERRORS))
    app.include_router(whatif_router(engine, get_cases, ERRORS))  # POST /reports/whatif (operators)

    uploads = Uploads(engine, settings)  # files given at opening (application.opening_files)
    app.include_router(uploads_router(uploads, ERRORS))
    app.add_middleware(MultipartOpening, uploads=uploads)  # inside the guard: after it
    # The guard runs before routing, so before anything reads a body.
    app.add_middleware(Guard, keyring=keys, limits=limits, larger=larger_bodies(settings))
    return app

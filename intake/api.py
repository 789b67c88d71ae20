"""The intake's HTTP API (FastAPI). Same code path as the CLI: `intake.cases.Cases`.

Bad input is a 422 with one entry per field; an unknown case 404; an action the case refuses
409 with the case's reason; Temporal unreachable 503. Callers authenticate with a bearer token
from CASEWORK_API_TOKENS, compared in constant time. No stack trace ever reaches a caller.
"""

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from intake.cases import ActionRejected, CaseNotFound, Cases, CaseSummary, OpenedCase, Unavailable
from service.logging import get_logger
from service.settings import Settings
from service.temporal import TemporalUnavailable, connect
from support.actions import (
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
)
from support.case_view import CaseView
from support.request import REQUEST_ID_PATTERN, CaseRequest
from support.verification import VerificationAttempt, VerificationResult
from support.vocabulary import CaseStatus, Category, Severity

log = get_logger("casework.api")

CASE_ID_PATTERN = "^case-" + REQUEST_ID_PATTERN.removeprefix("^")
CaseId = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="case-<request_id>", examples=["case-r-1"])]


class Problem(BaseModel):
    """Every error body: what went wrong, and per field where that applies."""

    error: str
    message: str
    fields: list[dict[str, str]] | None = None


class Accepted(BaseModel):
    case_id: str
    accepted: str


def _problem(code: int, error: str, message: str, fields: list[dict[str, str]] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=code, content=Problem(error=error, message=message, fields=fields).model_dump()
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or wrong bearer token"},
    404: {"model": Problem, "description": "no such case"},
    409: {"model": Problem, "description": "the case refused the action; the message says why"},
    422: {"model": Problem, "description": "invalid input, one entry per field"},
    503: {"model": Problem, "description": "Temporal is unreachable"},
}


def create_app(settings: Settings, cases: Cases | None = None) -> FastAPI:
    """The app; `cases` is given in tests, otherwise it connects to Temporal when first needed."""
    tokens = [t.encode() for t in settings.api_tokens]
    gateway: dict[str, Cases] = {"cases": cases} if cases is not None else {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not tokens:
            log.warning("no CASEWORK_API_TOKENS configured: every request will be refused (401)")
        yield

    app = FastAPI(
        title="casework intake API",
        version="1.0",
        description="Open support cases and drive them. Every case is a durable workflow.",
        lifespan=lifespan,
    )

    async def get_cases() -> Cases:
        if "cases" not in gateway:
            try:
                client = await connect(settings)
            except TemporalUnavailable as error:
                raise Unavailable(str(error)) from None
            gateway["cases"] = Cases(client, settings.task_queue)
        return gateway["cases"]

    bearer = HTTPBearer(auto_error=False)

    async def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        given = credentials.credentials.encode() if credentials else b""
        # Compare against every token, always: the time taken says nothing about which matched.
        matched = False
        for token in tokens:
            matched |= hmac.compare_digest(given, token)
        if not matched:
            raise PermissionError

    Auth = Annotated[None, Depends(authorised)]
    Gateway = Annotated[Cases, Depends(get_cases)]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(p) for p in item["loc"]),
                "message": str(item["msg"]).removeprefix("Value error, "),
            }
            for item in error.errors()
        ]
        return _problem(422, "invalid_input", "the request is not valid; see fields", fields)

    @app.exception_handler(PermissionError)
    async def _unauthorised(_: Request, __: PermissionError) -> JSONResponse:
        response = _problem(401, "unauthorised", "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(CaseNotFound)
    async def _not_found(_: Request, error: CaseNotFound) -> JSONResponse:
        return _problem(404, "not_found", str(error))

    @app.exception_handler(ActionRejected)
    async def _rejected(_: Request, error: ActionRejected) -> JSONResponse:
        return _problem(409, "rejected", str(error))

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, error: Unavailable) -> JSONResponse:
        return _problem(503, "unavailable", f"the case service is unavailable: {error}")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error in the API", error_type=type(error).__name__)
        return _problem(500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/cases", response_model=OpenedCase, status_code=201, responses={200: {"model": OpenedCase}, **ERRORS}
    )
    async def open_case(request: CaseRequest, response: Response, _: Auth, cases: Gateway) -> OpenedCase:
        """Open a case. `request_id` is the idempotency key: the same id again returns the same case (200)."""
        opened = await cases.open(request)
        response.status_code = status.HTTP_201_CREATED if opened.created else status.HTTP_200_OK
        return opened

    @app.get("/cases", response_model=list[CaseSummary], responses=ERRORS)
    async def list_cases(
        _: Auth,
        cases: Gateway,
        status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
        severity: Severity | None = None,
        category: Category | None = None,
        tenant: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[CaseSummary]:
        return await cases.list(
            status=status_, severity=severity, category=category, tenant_id=tenant, limit=limit
        )

    @app.get("/cases/{case_id}", response_model=CaseView, responses=ERRORS)
    async def show_case(case_id: CaseId, _: Auth, cases: Gateway) -> CaseView:
        return await cases.show(case_id)

    @app.post("/cases/{case_id}/verification", response_model=VerificationResult, responses=ERRORS)
    async def verify(
        case_id: CaseId, attempt: VerificationAttempt, response: Response, _: Auth, cases: Gateway
    ) -> VerificationResult:
        """Check a phone intake's one-time code: 200 when verified, 403 with the attempts left when not."""
        result = await cases.verify(case_id, attempt)
        response.status_code = status.HTTP_200_OK if result.verified else status.HTTP_403_FORBIDDEN
        return result

    def action(path: str, model: type[BaseModel], method: str, summary: str) -> None:
        async def endpoint(case_id: CaseId, body: Any, _: Auth, cases: Gateway) -> CaseView:
            run: Callable[[str, Any], Awaitable[CaseView]] = getattr(cases, method)
            return await run(case_id, body)

        endpoint.__annotations__["body"] = model
        app.post(f"/cases/{{case_id}}/{path}", response_model=CaseView, responses=ERRORS, summary=summary)(
            endpoint
        )

    action("respond", FirstResponse, "respond", "The engineer's first response")
    action(
        "updates", CustomerUpdate, "update_customer", "An update to the customer (satisfies the update clock)"
    )
    action(
        "customer-requests",
        CustomerActionRequest,
        "request_customer_action",
        "Ask the customer for something",
    )
    action("severity", SeverityChangeRequest, "change_severity", "Change the severity")
    action("resolve", Resolution, "resolve", "Resolve the case")
    action("reopen", ReopenRequest, "reopen", "The customer reopens a resolved case within the window")

    def customer_event(path: str, model: type[BaseModel], method: str, summary: str) -> None:
        async def endpoint(case_id: CaseId, body: Any, _: Auth, cases: Gateway) -> Accepted:
            await getattr(cases, method)(case_id, body)
            return Accepted(case_id=case_id, accepted=path)

        endpoint.__annotations__["body"] = model
        app.post(
            f"/cases/{{case_id}}/{path}",
            response_model=Accepted,
            status_code=202,
            responses=ERRORS,
            summary=summary,
        )(endpoint)

    customer_event("cooperation", Cooperation, "cooperate", "The customer provides an obligation or request")
    customer_event("survey", SurveyAnswer, "answer_survey", "The customer's satisfaction survey answer")
    return app

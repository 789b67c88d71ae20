"""`POST /reports/whatif`: the policy what-if for operators. The body is the proposed policy file
(TOML, as `starter.py whatif --policy` reads it), validated like the file: a bad policy is a 422
with one entry per field (`["body", "severities", "A", "first_response"]`). Nothing is changed or
sent; the answer is the what-if (JSON, or CSV with `format=csv`)."""

# No `from __future__ import annotations`: FastAPI reads the route's annotations, and the gateway
# dependency is a local of `whatif_router`.

import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, ValidationError
from sqlalchemy import Engine

from adapters.codec import key_ring_from_env
from application.cases import Cases, Forbidden
from application.whatif import ProposedPolicy, build_whatif
from support.identity.access import Permission, Principal
from support.policies.policy import Policy, PolicyError
from support.reporting.reports import ReportWindow
from support.reporting.whatif import WhatIfReport
from support.reporting.whatif_output import whatif_csv
from support.wording.text_shapes import TENANT_ID_PATTERN


def _principal(request: Request) -> Principal:
    found: Principal = request.state.principal  # set by the guard before routing
    return found


def _operator(request: Request) -> Principal:
    """The caller, if it may run a what-if (`operate`): checked before the query is read, so
    another role learns nothing of the endpoint but 403."""
    caller = _principal(request)
    if not caller.allows(Permission.OPERATE):  # the inputs re-run hold what customers wrote
        raise Forbidden(f"a {caller.role.value} key cannot run a policy what-if (needs `operate`)")
    return caller


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)


def checked_policy(text: str) -> ProposedPolicy:
    """The body as a policy, or a field-level 422: TOML first, then each table and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _invalid([{"loc": ("body",), "msg": f"not valid TOML: {error}", "type": "toml"}]) from None
    try:
        Policy.model_validate(data)
    except ValidationError as error:
        raise _invalid(
            [
                {
                    "loc": ("body", *e["loc"]),
                    "msg": str(e["msg"]).removeprefix("Value error, "),
                    "type": e["type"],
                }
                for e in error.errors()
            ]
        ) from None
    try:
        return ProposedPolicy(text, "body")
    except PolicyError as error:
        raise _invalid([{"loc": ("body",), "msg": str(error), "type": "policy"}]) from None


def whatif_router(
    engine: Engine, get_cases: Callable[[], Awaitable[Cases]], responses: dict[int | str, dict[str, Any]]
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/reports/whatif",
        response_model=WhatIfReport,
        responses={
            **responses,
            200: {"content": {"text/csv": {}}, "description": "the what-if (JSON or CSV)"},
        },
        openapi_extra={"requestBody": {"content": {"application/toml": {"schema": {"type": "string"}}}}},
        summary="Re-decide the cases opened in [since, until) under a proposed policy (changes nothing)",
        description="Needs `operate` (operators). The body is the proposed policy file (TOML).",
    )
    async def whatif(
        request: Request,
        caller: Annotated[Principal, Depends(_operator)],
        get: Annotated[Cases, Depends(get_cases)],
        since: Annotated[AwareDatetime, Query(description="ISO 8601 with offset; cases opened from then")],
        until: Annotated[AwareDatetime, Query(description="ISO 8601 with offset; cases opened before then")],
        tenant: Annotated[str | None, Query(pattern=TENANT_ID_PATTERN)] = None,
        format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    ) -> Any:
        try:
            window = ReportWindow(since=since, until=until)
        except ValidationError as error:
            raise _invalid(
                [
                    {"loc": ("query", *(e["loc"] or ("until",))), "msg": e["msg"], "type": e["type"]}
                    for e in error.errors()
                ]
            ) from None
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid([{"loc": ("body",), "msg": "not UTF-8 text", "type": "encoding"}]) from None
        proposed = checked_policy(text)
        tenants = None if tenant is None else (tenant,)
        report = await build_whatif(
            engine, get.client, window, tenants, proposed, datetime.now(UTC), key_ring_from_env()
        )
        if format_ == "csv":
            return Response(whatif_csv(report), media_type="text/csv; charset=utf-8")
        return report

    return router

"""The API's one error handler: every failure as `{"error", "message", "fields"}` with its status
(and Retry-After where one applies), never a stack trace.

The gateway's errors say their own status and code (`application.errors.FrontError`); what is left is
what the framework and the layers below raise: a request that fails validation (422), an HTTP
error of the router (404, 405, 413), a bad policy file (503 `policy_invalid`), Temporal's own
errors (400 for a request it refused, else 503) and a bug (500, logged by type only).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from temporalio.service import RPCError, RPCStatusCode

from adapters.logging import get_logger
from adapters.policy_file import policy_problem
from application.errors import RETRY_SOON_S, FrontError, PolicyInvalid
from support.policies.policy import PolicyError
from support.wording.validation import field_errors

log = get_logger("casework.api")
RETRY_SOON = {"Retry-After": str(RETRY_SOON_S)}


class Problem(BaseModel):
    """Every error body: what went wrong, and per field where that applies."""

    error: str
    message: str
    fields: list[dict[str, str]] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {  # the OpenAPI document's error answers, every route
    400: {
        "model": Problem,
        "description": "more than one Authorization header, or a request Temporal refused",
    },
    401: {"model": Problem, "description": "missing or wrong bearer token"},
    403: {"model": Problem, "description": "this key's role or tenants do not allow it"},
    404: {"model": Problem, "description": "no such case (or not one of this key's tenants)"},
    409: {"model": Problem, "description": "the case refused the action; the message says why"},
    413: {"model": Problem, "description": "the body is over 1 MiB"},
    422: {"model": Problem, "description": "invalid input, one entry per field"},
    429: {"model": Problem, "description": "a rate limit or quota; Retry-After says when to try again"},
    503: {
        "model": Problem,
        "description": "Temporal is unreachable, or the case is recorded but not decided yet; "
        "Retry-After says when to ask again (the same request is safe)",
    },
}

_HTTP_ERRORS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
# What the handler is registered for: FastAPI answers these itself unless told, and an exception
# left to `Exception` alone is answered outside the middleware.
HANDLED = (FrontError, RequestValidationError, HTTPException, PolicyError, RPCError, Exception)


def problem(
    code: int,
    error: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=code,
        content=Problem(error=error, message=message, fields=fields).model_dump(),
        headers=headers,
    )


def _said(error: FrontError) -> JSONResponse:
    if isinstance(error, PolicyInvalid):  # the file's own error (file, table, field), to the log too
        log.error("policy file invalid", problem=error.problem)
    return problem(error.status, error.code, error.message(), error.fields(), error.headers())


def install_api_errors(app: FastAPI, policy_path: Path) -> None:
    """The one handler, for every kind the API answers."""

    async def answer(_: Request, error: Exception) -> JSONResponse:
        if isinstance(error, FrontError):
            return _said(error)
        if isinstance(error, RequestValidationError):
            fields = field_errors(error.errors())
            return problem(422, "invalid_input", "the request is not valid; see fields", fields)
        if isinstance(error, HTTPException):
            code = error.status_code
            headers = dict(error.headers) if error.headers else None
            return problem(code, _HTTP_ERRORS.get(code, "error"), str(error.detail), headers=headers)
        if isinstance(error, PolicyError):
            found = await asyncio.to_thread(policy_problem, policy_path)
            return _said(PolicyInvalid(found or str(error).splitlines()[0]))
        if isinstance(error, RPCError):
            if error.status is RPCStatusCode.INVALID_ARGUMENT:
                return problem(400, "bad_request", f"Temporal refused the request: {error.message}")
            log.warning("Temporal error in the API", status=error.status.name if error.status else None)
            message = "the case service is unavailable; try again shortly"
            return problem(503, "unavailable", message, headers=RETRY_SOON)
        log.error("unexpected error in the API", error_type=type(error).__name__)
        return problem(500, "internal_error", "an unexpected error occurred; it has been logged")

    for kind in HANDLED:
        app.add_exception_handler(kind, answer)

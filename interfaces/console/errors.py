"""The console's one error handler: a page in the reader's language that says what went wrong
(templates/console/error.html), never a stack trace; no session sends the browser to sign in.

The gateway's errors and the console's own (`BadForm`) say their status and page key
(`application.errors.FrontError`); the rest is what the framework and the layers below raise.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from application.errors import FrontError
from interfaces.console.field_problems import field_problems
from interfaces.console.i18n import Words
from interfaces.console.kit import PREFIX, TEMPLATES, Console, SignInNeeded, log
from support.policies.policy import PolicyError

# What the handler is registered for: FastAPI answers some itself unless told, and an exception
# left to `Exception` alone is answered outside the middleware (no security headers).
HANDLED = (SignInNeeded, FrontError, RequestValidationError, HTTPException, PolicyError, RPCError, Exception)


def install_console_errors(app: FastAPI, console: Console) -> None:
    policy_path = console.settings.policy_path

    async def answer(request: Request, error: Exception) -> Response:
        if isinstance(error, SignInNeeded):
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/sign-in"})
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        if isinstance(error, FrontError):
            status = error.page_status()
            page = await console.error_page(request, status, error.page, error.detail())
            if status == 429 and (headers := error.headers()):  # when to try again
                page.headers.update(headers)
            return page
        if isinstance(error, RequestValidationError):
            words = Words(TEMPLATES, console.language(request))
            problems = words("list_separator").join(
                words("field_problem", field=words.lookup(f"fields.{field}") or field, problem=problem)
                for field, problem in field_problems(error.errors(), words, skip=1).items()
            )
            return await console.error_page(request, 422, "fix_fields", problems)
        if isinstance(error, HTTPException):
            key = "not_found" if error.status_code == 404 else "error"
            return await console.error_page(request, error.status_code, key)
        if isinstance(error, PolicyError):  # a bad policy.toml: 503 with its own error, not a 500
            problem = str(error).splitlines()[0].replace(str(policy_path), policy_path.name, 1)
            log.error("policy file invalid", problem=problem)
            detail = f"the policy file is invalid: {problem}"
            return await console.error_page(request, 503, "unavailable", detail)
        if isinstance(error, RPCError):
            log.warning("Temporal error in the console", status=error.status.name if error.status else None)
            return await console.error_page(request, 503, "unavailable")
        log.error("unexpected error in the console", error_type=type(error).__name__)
        return await console.error_page(request, 500, "error")

    for kind in HANDLED:
        app.add_exception_handler(kind, answer)

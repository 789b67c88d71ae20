"""Signing in and out of the console: the API key once (the form's `token`), then a signed,
HttpOnly, SameSite=Strict session cookie (`interfaces.console.session`). Sign-ins are limited per
client address together with the API's wrong tokens."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError

from application.cases import Unavailable
from application.limits import client_of
from interfaces.console.kit import PREFIX, Console, log
from interfaces.console.session import PRE_SESSION_COOKIE, SESSION_COOKIE, new_nonce
from support.identity.access import Permission


def signin_router(console: Console) -> APIRouter:
    """/console (home), /console/sign-in and /console/sign-out."""
    router = APIRouter()
    sessions, limits = console.sessions, console.limits

    @router.get(PREFIX)
    @router.get(f"{PREFIX}/")
    async def home(request: Request) -> Response:
        session = await console.session_of(request)
        if session is None:
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        if session.principal.allows(Permission.READ_CASES):
            return RedirectResponse(f"{PREFIX}/queue", status_code=303)
        return RedirectResponse(f"{PREFIX}/reports", status_code=303)

    def sign_in_page(
        request: Request, status: int = 200, problem: str = "", retry_after: int = 0
    ) -> HTMLResponse:
        nonce = new_nonce()
        response = console.render(
            request,
            "sign_in.html",
            status,
            None,
            problem=problem,
            retry_after=retry_after,
            pre_csrf=sessions.csrf(nonce),
        )
        response.set_cookie(PRE_SESSION_COOKIE, nonce, **console.cookie_options(request))
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @router.get(f"{PREFIX}/sign-in")
    async def sign_in_form(request: Request) -> HTMLResponse:
        return sign_in_page(request)

    @router.post(f"{PREFIX}/sign-in")
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
        form = await console.read_form(request, None, request.cookies.get(PRE_SESSION_COOKIE))
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
        options = console.cookie_options(request)
        response.set_cookie(SESSION_COOKIE, cookie, max_age=sessions.lifetime, **options)
        response.delete_cookie(PRE_SESSION_COOKIE, **options)
        return response

    @router.post(f"{PREFIX}/sign-out")
    async def sign_out(request: Request) -> Response:
        session = await console.signed_in(request)
        await console.read_form(request, session)
        try:
            await asyncio.to_thread(sessions.sign_out, session)  # for every API process
        except SQLAlchemyError as error:
            log.warning("console sign-out not recorded", error_type=type(error).__name__)
            raise Unavailable("the database does not answer") from None
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, **console.cookie_options(request))
        return response

    return router

"""The API's front door, before any route runs: who is asking, how often, and how much they send.

A pure ASGI middleware, so nothing of a request's body is read before its bearer token names a
principal, and a body over the limit is refused (413) without being parsed: by its Content-Length
when it says one, or while it streams in when it does not. The public pages (health, the OpenAPI
document and its viewers) need no token. The principal goes into the request's state for the
routes; the per-key rate limit is taken here too, so a flood of requests costs one hash each.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from adapters.api_keys import Keyring
from application.limits import FrontLimits, RateLimited, client_of

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1024 * 1024
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
PUBLIC_PREFIXES = ("/docs-assets/",)


def authorization_headers(scope: Scope) -> int:
    """How many Authorization headers the request has: more than one is refused (400) by both
    fronts, never resolved by taking the first or the last (a proxy and the app could each
    read another one)."""
    return sum(1 for name, _ in scope.get("headers", []) if name.lower() == b"authorization")


TWO_AUTHORIZATIONS = "the request has more than one Authorization header; send exactly one"


def problem_body(error: str, message: str) -> bytes:
    return json.dumps({"error": error, "message": message, "fields": None}).encode()


async def send_problem(
    send: Send, status: int, error: str, message: str, headers: dict[str, str] | None = None
) -> None:
    body = problem_body(error, message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _bearer(authorization: str) -> str:
    """The token of `Bearer <token>`; '' for anything else."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _too_many(send: Send, limited: RateLimited) -> None:
    await send_problem(send, 429, "rate_limited", str(limited), {"Retry-After": str(limited.retry_after)})


class BodyTooLarge(HTTPException):
    """Raised while a body without a Content-Length streams in past the limit; FastAPI passes an
    HTTPException through its body parsing, and the app's handler answers it as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over the limit of {limit} bytes")


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        keyring: Keyring,
        limits: FrontLimits,
        max_body: int = MAX_BODY_BYTES,
        larger: Callable[[Scope], int | None] | None = None,
    ) -> None:
        """`larger`: the limit of the requests that may carry more (files given at opening), else None."""
        self._app = app
        self._keyring = keyring
        self._limits = limits
        self._max_body = max_body
        self._larger = larger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if authorization_headers(scope) > 1:
            await send_problem(send, 400, "bad_request", TWO_AUTHORIZATIONS)
            return
        path: str = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = client_of(scope)
        limited = self._limits.locked_out(client) or self._limits.client_request(client)
        if limited is not None:
            await _too_many(send, limited)
            return
        await self._keyring.fresh()  # the key file as it is now (read again when it changed)
        token = _bearer(headers.get("authorization", ""))
        principal = self._keyring.authenticate(token) if token else None
        if principal is None:
            if token:
                self._limits.failed_sign_in(client, token, "api")
            await send_problem(
                send, 401, "unauthorised", "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
            )
            return
        limited = self._limits.key_request(principal.name)
        if limited is not None:
            await _too_many(send, limited)
            return
        larger = self._larger(scope) if self._larger is not None else None
        most = larger if larger is not None else self._max_body
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > most):
            await send_problem(send, 413, "too_large", f"the body is over the limit of {most} bytes")
            return
        scope.setdefault("state", {})["principal"] = principal
        await self._app(scope, self._bounded(receive, most), send)

    def _bounded(self, receive: Receive, most: int) -> Receive:
        """A body without a Content-Length is counted as it arrives and cut off past the limit."""
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > most:
                    raise BodyTooLarge(most)
            return message

        return bounded

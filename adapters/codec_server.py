"""A codec server for the Temporal UI: it decodes (and encodes) payloads for operators only.

Implements the Temporal codec server protocol (POST /decode and /encode with
`{"payloads": [{"metadata": {...base64}, "data": base64}]}`), with CORS for the UI's origin. The
decoded payloads are the cases' personal data, so every call needs the bearer token of an operator
key (docs/security.md); without any operator key it does not start at all, rather than decrypt
for anyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from adapters.api_keys import Keyring
from adapters.logging import get_logger
from support.identity.access import Permission

log = get_logger("casework.codec_server")


class NoOperatorKey(ValueError):
    """The codec server would have nobody to serve, or everybody: it does not start."""


def _problem(status: int, error: str, message: str) -> JSONResponse:
    response = JSONResponse({"error": error, "message": message}, status_code=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def create_codec_app(codec: PayloadCodec, keyring: Keyring, origin: str) -> Starlette:
    if not keyring.has_operator():
        raise NoOperatorKey(
            "the codec server decodes for operators only and no operator key is configured: "
            'add a key with role = "operator" to the CASEWORK_API_KEYS file, or set CASEWORK_API_TOKENS'
        )

    def endpoint(
        action: str, transform: Callable[[list[Payload]], Awaitable[list[Payload]]]
    ) -> Callable[..., Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            # Who is asking is settled before the body is read, by the key file as it is now.
            await keyring.fresh()
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            principal = keyring.authenticate(token.strip() if scheme.lower() == "bearer" else None)
            if principal is None:
                return _problem(401, "unauthorised", "a valid bearer token is required")
            if not principal.allows(Permission.OPERATE):
                log.warning("codec refused", action=action, key=principal.name, role=principal.role.value)
                return _problem(
                    403,
                    "forbidden",
                    f"the codec server serves operator keys only; this key's role is {principal.role.value}",
                )
            try:
                payloads = json_format.Parse(await request.body(), Payloads())
                result = Payloads(payloads=await transform(list(payloads.payloads)))
            except Exception as error:  # bad input or a key that is not configured: say so, no trace
                return _problem(
                    400, "invalid_payloads", f"cannot {action} the payloads: {type(error).__name__}"
                )
            log.info("codec", action=action, key=principal.name, payloads=len(result.payloads))
            return Response(json_format.MessageToJson(result), media_type="application/json")

        return handle

    return Starlette(
        routes=[
            Route("/decode", endpoint("decode", codec.decode), methods=["POST"]),
            Route("/encode", endpoint("encode", codec.encode), methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[origin],
                allow_methods=["POST"],
                allow_headers=["authorization", "content-type", "x-namespace"],
                allow_credentials=True,
            )
        ],
    )

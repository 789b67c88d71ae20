"""A codec server for the Temporal UI: it decodes (and encodes) payloads for authorised users.

Implements the Temporal codec server protocol (POST /decode and /encode with
`{"payloads": [{"metadata": {...base64}, "data": base64}]}`), with CORS for the UI's origin and,
when CASEWORK_API_TOKENS is set, a bearer token on every call.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec


def create_codec_app(codec: PayloadCodec, tokens: Sequence[str], origin: str) -> Starlette:
    allowed = [t.encode() for t in tokens]

    def authorised(request: Request) -> bool:
        if not allowed:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        matched = False
        for token in allowed:
            matched |= hmac.compare_digest(given, token)
        return matched

    def endpoint(
        transform: Callable[[list[Payload]], Awaitable[list[Payload]]],
    ) -> Callable[..., Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if not authorised(request):
                return JSONResponse({"message": "a valid bearer token is required"}, status_code=401)
            try:
                payloads = json_format.Parse(await request.body(), Payloads())
                result = Payloads(payloads=await transform(list(payloads.payloads)))
            except Exception as error:  # bad input or a key that is not configured: say so, no trace
                return JSONResponse(
                    {"message": f"cannot transform payloads: {type(error).__name__}"}, status_code=400
                )
            return Response(json_format.MessageToJson(result), media_type="application/json")

        return handle

    return Starlette(
        routes=[
            Route("/decode", endpoint(codec.decode), methods=["POST"]),
            Route("/encode", endpoint(codec.encode), methods=["POST"]),
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

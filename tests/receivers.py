"""A real webhook receiver on loopback that answers with scripted status codes, and checks the
signature the way docs/webhooks.md tells receivers to (its own snippet, run as it is)."""

from __future__ import annotations

import asyncio
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.mail_sink import free_port
from adapters.settings import PROJECT_ROOT

SignatureCheck = Callable[[str, str, bytes], bool]


@cache
def readme_check() -> SignatureCheck:
    """`casework_signed(secret, header, body)` exactly as docs/webhooks.md shows it to integrators:
    if the snippet were wrong, the receiver would refuse casework's deliveries."""
    guide = (PROJECT_ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n((?:(?!```).)*?def casework_signed(?:(?!```).)*)```", guide, re.S)
    assert block, "docs/webhooks.md shows the receiver's check (def casework_signed) in a python block"
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(block[1]), namespace)
    check: SignatureCheck = namespace["casework_signed"]
    return check


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class WebhookReceiver:
    """Answers `script` in order, then 200. Every request is kept, whatever it was answered.

    With a `secret`, a request whose X-Casework-Signature fails docs/webhooks.md's check gets 401 (and
    uses no step of the script), as a careful receiver answers it."""

    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    secret: str | None = None

    async def _hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        signed = self.secret is None or readme_check()(
            self.secret, request.headers.get("x-casework-signature", ""), body
        )
        status = (self.script.pop(0) if self.script else 200) if signed else 401
        self.received.append(Received(dict(request.headers), body, status))
        return JSONResponse({"status": status}, status_code=status)

    async def __aenter__(self) -> WebhookReceiver:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        )
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *_: Any) -> None:
        self._server.should_exit = True
        await self._task

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

"""casework's own SMTP listener (aiosmtpd) for customers' replies to `case+<token>@<reply domain>`.

It receives and answers; what to answer is decided by the `Routing` it is handed (the intake's
`intake.inbound_mail.InboundMail`). It runs on the caller's event loop (not aiosmtpd's Controller
thread), so the routing can use the process's Temporal client and database as they are.

- the message size is announced (EHLO `SIZE`) and enforced by aiosmtpd: over it, 552;
- a recipient is decided at RCPT (550 for anything but a case's address); one case a message:
  a second case address is answered 452, so the sending server sends that copy again on its own;
- a routing that fails unexpectedly answers 451: the sending server keeps the mail and retries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP

from adapters.logging import get_logger

log = get_logger("casework.smtp_in")


class Answer(Protocol):
    @property
    def line(self) -> str: ...


class Routing(Protocol):
    async def recipient(self, address: str) -> Answer | None: ...

    async def message(self, envelope_sender: str, recipient: str, raw: bytes) -> Answer: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ListenerConfig:
    host: str
    port: int  # 0: any free port (tests)
    max_message_bytes: int
    hostname: str = "casework"


class _Handler:
    def __init__(self, routing: Routing) -> None:
        self._routing = routing

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if envelope.rcpt_tos and address.lower() not in (a.lower() for a in envelope.rcpt_tos):
            return "452 4.5.3 one case address a message; send the rest again"
        try:
            refusal = await self._routing.recipient(address)
        except Exception as error:  # never a lost reply: the sending server tries again
            log.error("inbound recipient check failed", error_type=type(error).__name__)
            return "451 4.3.0 temporary failure; please try again later"
        if refusal is not None:
            return refusal.line
        if address not in envelope.rcpt_tos:
            envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        content = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogateescape")
        sender = str(envelope.mail_from or "")
        try:
            answer = await self._routing.message(sender, envelope.rcpt_tos[0], content)
        except Exception as error:
            log.error("inbound message could not be routed", error_type=type(error).__name__)
            return "451 4.3.0 temporary failure; please try again later"
        return answer.line


class InboundListener:
    """The SMTP server, started and stopped on the running event loop."""

    def __init__(self, routing: Routing, config: ListenerConfig) -> None:
        self._routing = routing
        self._config = config
        self._server: asyncio.Server | None = None
        self.port = config.port

    async def start(self) -> InboundListener:
        handler = _Handler(self._routing)
        config = self._config

        def session() -> SMTP:
            return SMTP(
                handler,
                data_size_limit=config.max_message_bytes,
                enable_SMTPUTF8=True,
                hostname=config.hostname,
                ident="casework inbound",
                timeout=60,
            )

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(session, host=config.host, port=config.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("inbound mail listener started", host=config.host, port=self.port)
        return self

    async def stop(self) -> None:
        """Stop listening, then stop the routing's own work (its mail readers)."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        await self._routing.close()
        log.info("inbound mail listener stopped")

"""casework's own SMTP listener (aiosmtpd) for customers' replies to `case+<token>@<reply domain>`.

It receives and answers; what to answer is decided by the `Routing` it is handed (the intake's
`interfaces.mail_in.routing.InboundMail`). The SMTP sessions run on an event loop of their own, in a
thread (aiosmtpd handles a message line by line in Python: 25 MiB are 300,000 lines, seconds of
work that must not hold the loop serving the API, /healthz and the Temporal worker); each decision
is made on the caller's event loop, so the routing uses the process's Temporal client and database
as they are.

- the message size is announced (EHLO `SIZE`) and enforced by aiosmtpd: over it, 552;
- a recipient is decided at RCPT (550 for anything but a case's address); one case a message:
  a second case address is answered 452, so the sending server sends that copy again on its own;
- a routing that fails unexpectedly answers 451: the sending server keeps the mail and retries.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiosmtpd.smtp import SMTP

from adapters.logging import get_logger

log = get_logger("casework.smtp_in")
T = TypeVar("T")


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
    # a socket already bound and listening (the listener's process binds it first, so the worker
    # hears at once whether the port could be had); host and port are then what it is bound to
    sock: socket.socket | None = None


class _Handler:
    """aiosmtpd's handler, on the listener's loop; the routing runs on `decide_on` (the caller's)."""

    def __init__(self, routing: Routing, decide_on: asyncio.AbstractEventLoop) -> None:
        self._routing = routing
        self._decide_on = decide_on

    def _decided(self, decision: Coroutine[Any, Any, T]) -> Awaitable[T]:
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(decision, self._decide_on))

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if envelope.rcpt_tos and address.lower() not in (a.lower() for a in envelope.rcpt_tos):
            return "452 4.5.3 one case address a message; send the rest again"
        try:
            refusal = await self._decided(self._routing.recipient(address))
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
            answer = await self._decided(self._routing.message(sender, envelope.rcpt_tos[0], content))
        except Exception as error:
            log.error("inbound message could not be routed", error_type=type(error).__name__)
            return "451 4.3.0 temporary failure; please try again later"
        return answer.line


class InboundListener:
    """The SMTP server on a thread and event loop of its own, started and stopped from the caller's
    loop (where the routing runs)."""

    def __init__(self, routing: Routing, config: ListenerConfig) -> None:
        self._routing = routing
        self._config = config
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = config.port

    async def start(self) -> InboundListener:
        handler = _Handler(self._routing, asyncio.get_running_loop())
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

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="casework-smtp-in", daemon=True)
        thread.start()
        try:
            listening = (
                loop.create_server(session, sock=config.sock)
                if config.sock is not None
                else loop.create_server(session, host=config.host, port=config.port)
            )
            self._server = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(listening, loop))
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("inbound mail listener started", host=config.host, port=self.port)
        return self

    async def stop(self) -> None:
        """Stop listening and the listener's loop, then the routing's own work (its mail readers)."""
        if self._server is None or self._loop is None or self._thread is None:
            return
        server, loop, thread = self._server, self._loop, self._thread
        self._server = self._loop = self._thread = None

        async def closed() -> None:
            server.close()
            await server.wait_closed()
            sessions = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in sessions:  # a session still open ends here; its sender tries again
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(closed(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()
        await self._routing.close()
        log.info("inbound mail listener stopped")

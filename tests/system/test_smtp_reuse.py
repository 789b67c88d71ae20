"""Deliveries reuse what they opened: SMTP connections (a pool per server, counted here on the
server's side, a real aiosmtpd), one HTTP client for webhooks, and one ledger transaction per
delivery; a server that drops a kept connection costs a reconnect, never a message."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, event, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activities.delivery import DeliveryActivities, DeliveryConfig
from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger, LedgerEntry
from adapters.mail_sink import free_port
from adapters.messages import Message, Renderer
from adapters.outbound import PermanentFailure, TransientFailure
from adapters.reply_addresses import ReplyAddresses
from adapters.schema import reply_addresses
from adapters.settings import PROJECT_ROOT, Settings
from adapters.smtp_out import Slots, SmtpPool, SmtpServer, case_email
from support.messaging.notifications import Audience, Notification

SECRET = "s3cret-for-tests-0123456789abcdef"  # 32 bytes at least, or the worker refuses it


@dataclasses.dataclass
class CountingSink:
    """An aiosmtpd handler that keeps messages in memory and counts connections (one EHLO each).

    `drop`: what the server does to a connection that already carried a message, when the next
    MAIL FROM comes: "close" it without a word, answer "421" and close it, or None (keep it).
    `drop_all_after`: after this many messages, drop every connection at MAIL FROM (a server gone
    bad). `close_after_each`: close every connection a moment after a message was taken.
    `refuse`: RCPT TO of these addresses is answered with this reply."""

    drop: str | None = None
    drop_all_after: int | None = None
    close_after_each: bool = False
    refuse: dict[str, str] = dataclasses.field(default_factory=dict)
    connections: int = 0
    quits: int = 0
    messages: list[bytes] = dataclasses.field(default_factory=list)
    helo_names: list[str] = dataclasses.field(default_factory=list)
    senders: list[str] = dataclasses.field(default_factory=list)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        self.helo_names.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        gone_bad = self.drop_all_after is not None and len(self.messages) >= self.drop_all_after
        # Counted on the session itself: an id() is reused once a closed session is freed, and a
        # fresh connection then looked as if it had carried a message (a flaky failure).
        if gone_bad or (self.drop and getattr(session, "carried", 0) > 0):
            if self.drop == "421":
                server.loop.call_soon(server.transport.close)
                return "421 4.7.0 Too many messages on this connection, closing"
            server.transport.close()  # nothing more reaches the client
            return "250 OK"
        envelope.mail_from = address
        self.senders.append(address)
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        session.carried = getattr(session, "carried", 0) + 1
        if self.close_after_each:
            server.loop.call_later(0.01, server.transport.close)
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def ids(self) -> list[str]:
        """X-Casework-Notification of every message taken, in arrival order."""
        found = []
        for content in self.messages:
            for line in content.decode().splitlines():
                if line.startswith("X-Casework-Notification:"):
                    found.append(line.split(":", 1)[1].strip())
        return found


@contextmanager
def smtp_server(sink: CountingSink) -> Iterator[SmtpServer]:
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(host="127.0.0.1", port=controller.port, timeout_seconds=5.0)
    finally:
        controller.stop()


def email(n: int, to: str = "someone@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "support@casework.example"
    message["To"] = to
    message["Subject"] = f"message {n}"
    message["X-Casework-Notification"] = f"n-{n}"
    message.set_content(f"body {n}")
    return message


async def test_many_messages_go_over_one_connection_when_sent_one_after_another() -> None:
    sink = CountingSink()
    with smtp_server(sink) as server:
        pool = SmtpPool(server)
        for n in range(20):
            await pool.send(email(n))
        await pool.close()
    assert sink.ids() == [f"n-{n}" for n in range(20)]
    assert (sink.connections, pool.opened) == (1, 1)
    assert sink.quits == 1, "closing the pool ends its idle connection with QUIT"


async def test_concurrent_senders_share_a_bounded_number_of_connections() -> None:
    sink = CountingSink()
    with smtp_server(sink) as server:
        pool = SmtpPool(server, size=3)
        await asyncio.gather(*(pool.send(email(n)) for n in range(40)))
        await asyncio.gather(*(pool.send(email(n)) for n in range(40, 60)))
        await pool.close()
    assert sorted(sink.ids()) == sorted(f"n-{n}" for n in range(60))
    assert sink.connections == 3, "never more than the pool's size, reused by the second burst"


@pytest.mark.parametrize("drop", ["close", "421"])
async def test_a_server_that_drops_the_connection_between_messages_gets_every_message_once(
    drop: str,
) -> None:
    sink = CountingSink(drop=drop)
    with smtp_server(sink) as server:
        pool = SmtpPool(server)
        for n in range(5):
            await pool.send(email(n))
        await pool.close()
    assert sink.ids() == [f"n-{n}" for n in range(5)], "each message once, in order"
    assert sink.connections == 5, "a fresh connection for each message the dropped one could not carry"


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    sink = CountingSink(close_after_each=True)
    with smtp_server(sink) as server:
        pool = SmtpPool(server)
        for n in range(3):
            await pool.send(email(n))
            await asyncio.sleep(0.3)  # the server has closed it by now
        await pool.close()
    assert sink.ids() == ["n-0", "n-1", "n-2"]
    assert sink.connections == 3


async def test_a_dropped_connection_is_retried_once_then_the_failure_is_transient() -> None:
    sink = CountingSink(drop_all_after=1)
    with smtp_server(sink) as server:
        pool = SmtpPool(server)
        await pool.send(email(0))
        with pytest.raises(TransientFailure) as failure:
            await pool.send(email(1))
        await pool.close()
    assert failure.value.kind == "SmtpUnavailable"
    assert sink.ids() == ["n-0"]
    assert sink.connections == 2, "the kept connection, then one fresh one: no retry loop"


async def test_failures_are_sorted_as_before_and_the_connection_is_not_kept() -> None:
    sink = CountingSink(
        refuse={"gone@example.com": "550 5.1.1 No such user", "full@example.com": "452 4.2.2 Mailbox full"}
    )
    with smtp_server(sink) as server:
        pool = SmtpPool(server)
        await pool.send(email(0))
        with pytest.raises(PermanentFailure) as refused:
            await pool.send(email(1, to="gone@example.com"))
        with pytest.raises(TransientFailure, match="452") as deferred:
            await pool.send(email(2, to="full@example.com"))
        await pool.send(email(3))
        await pool.close()
    assert deferred.value.kind == "SmtpTransient"
    assert str(refused.value) == "SMTP refused the recipient: 550 5.1.1 No such user", "its text kept"
    assert sink.ids() == ["n-0", "n-3"]
    assert sink.connections == 3, "a connection that saw a refusal is closed, not reused"
    unreachable = SmtpPool(SmtpServer(host="127.0.0.1", port=free_port(), timeout_seconds=2.0))
    with pytest.raises(TransientFailure) as down:
        await unreachable.send(email(4))
    assert down.value.kind == "SmtpUnavailable"


async def test_the_servers_text_is_kept_bounded_and_without_the_address() -> None:
    said = "5.1.1 <gone@example.com>: Recipient address rejected: User unknown in local recipient table"
    sink = CountingSink(refuse={"gone@example.com": f"550 {said} {'x' * 600}"})
    with smtp_server(sink) as server:
        pool = SmtpPool(server)
        with pytest.raises(PermanentFailure) as refused:
            await pool.send(email(1, to="gone@example.com"))
        await pool.close()
    text = str(refused.value)
    assert "550 5.1.1 <g***@example.com>: Recipient address rejected: User unknown in local recipient" in text
    assert "gone@" not in text and len(text) < 400


async def test_casework_says_its_helo_name_and_writes_the_message_id_on_one_line() -> None:
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        named = SmtpServer(host="127.0.0.1", port=controller.port, helo_name="mail.casework.example")
        default = SmtpServer(host="127.0.0.1", port=controller.port)
        message = case_email(
            Message(subject="Case opened", text="text", html="<p>html</p>", language="en"),
            mail_from="casework support <support@casework.example>",
            to="admin@contoso.example",
            case_id="case-contoso.a-request-id-long-enough-to-matter",
            notification_id="case-contoso.a-request-id-long-enough-to-matter/acknowledged/0/customer",
            reply_to_domain="support.casework.example",
            reply_key=b"k" * 32,
        )
        for server in (named, default):
            pool = SmtpPool(server)
            await pool.send(message, envelope_from="bounce+abc@support.casework.example")
            await pool.close()
    finally:
        controller.stop()
    assert sink.helo_names == ["mail.casework.example", socket.getfqdn()]
    assert sink.senders == ["bounce+abc@support.casework.example"] * 2
    raw = sink.messages[0]
    line = next(x for x in raw.split(b"\r\n") if x.lower().startswith(b"message-id:"))
    assert re.fullmatch(rb"Message-ID: <[0-9a-f]{40}@support\.casework\.example>", line), raw[:400]


async def test_a_connection_idle_too_long_is_replaced() -> None:
    sink = CountingSink()
    with smtp_server(sink) as server:
        pool = SmtpPool(server, max_idle_seconds=0.0)
        for n in range(3):
            await pool.send(email(n))
        await pool.close()
    assert sink.ids() == ["n-0", "n-1", "n-2"]
    assert sink.connections == 3


# -- through the delivery activity: the ledger, the webhook client ------


def support_notice(n: int) -> Notification:
    """A follow-up for an engineer the staff list does not know: it goes to the support queue."""
    return Notification(
        notification_id=f"case-p/follow_up/{n}/engineer",
        case_id="case-p",
        event="follow_up",
        template="follow_up",
        audience=Audience.ENGINEER,
        time_zone="Europe/Budapest",
        engineer="mallory",
        facts={"engineer": "mallory", "severity": "B", "title": "Teams calls drop"},
    )


def customer_notice(n: int, to_email: str) -> Notification:
    """The first response, for a customer reached by email, else by sms."""
    return Notification(
        notification_id=f"case-p/first_response/{n}/customer",
        case_id="case-p",
        event="first_response",
        template="first_response",
        audience=Audience.CUSTOMER,
        time_zone="Europe/Budapest",
        to_email=to_email,
        to_phone="+3612345678",
        facts={"engineer": "li.wei", "title": "Teams calls drop", "message": "Looking"},
    )


def reply_addresses_apart(settings: Settings) -> tuple[Engine, ReplyAddresses]:
    """The emails' reply addresses recorded through an engine of their own (on the same database),
    so that the ledger's transactions are counted alone."""
    engine = open_database(settings)
    return engine, ReplyAddresses(engine)


def recorded_reply_addresses(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(reply_addresses)).scalar_one())


def count_commits(engine: Engine) -> list[int]:
    commits = [0]

    @event.listens_for(engine, "commit")
    def _commit(connection: object) -> None:
        commits[0] += 1

    return commits


@asynccontextmanager
async def hook_receiver() -> AsyncIterator[tuple[str, list[tuple[str, int]]]]:
    """A webhook receiver on loopback that keeps (client address, port) of every request: one
    port per TCP connection."""
    seen: list[tuple[str, int]] = []

    async def hook(request: Request) -> JSONResponse:
        assert request.client is not None
        seen.append((request.client.host, request.client.port))
        return JSONResponse({})

    port = free_port()
    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/hook", seen
    finally:
        server.should_exit = True
        await task


async def test_deliveries_share_connections_and_write_the_ledger_once_each(
    tmp_path: Path, database_url: str
) -> None:
    sink = CountingSink(drop="close")
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    engine = open_database(settings)
    apart, replies = reply_addresses_apart(settings)
    commits = count_commits(engine)
    try:
        with smtp_server(sink) as server:
            config = DeliveryConfig(smtp_host=server.host, smtp_port=server.port, smtp_connections=2)
            async with DeliveryActivities(
                config, DeliveryLedger(engine), Renderer(PROJECT_ROOT / "templates"), replies
            ) as deliveries:
                receipts = await asyncio.gather(*(deliveries.deliver(support_notice(n)) for n in range(6)))
                again = await deliveries.deliver(support_notice(0))
        assert [r.channel for r in receipts] == ["email"] * 6 and again.duplicate
        assert sorted(sink.ids()) == sorted(f"case-p/follow_up/{n}/engineer" for n in range(6))
        assert sink.connections <= 2 + 6, "at most 2 open; the server drops each after one message"
        assert commits[0] == 6, "one ledger transaction per delivery"
        rows = DeliveryLedger(engine).for_case("case-p")
        assert [(r["channel"], r["status"]) for r in rows] == [("email", "sent")] * 6
        assert recorded_reply_addresses(engine) == 0, "staff mail names no reply address (no Reply-To)"
    finally:
        engine.dispose()
        apart.dispose()


async def test_a_refused_route_and_the_next_one_are_recorded_in_one_transaction(
    tmp_path: Path, database_url: str
) -> None:
    sink = CountingSink(refuse={"gone@fabrikam.example": "550 5.1.1 No such user"})
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    engine = open_database(settings)
    apart, replies = reply_addresses_apart(settings)
    commits = count_commits(engine)
    try:
        with smtp_server(sink) as server:
            async with hook_receiver() as (url, seen):
                config = DeliveryConfig(
                    smtp_host=server.host,
                    smtp_port=server.port,
                    channels={"sms": {"phone": url}},
                    webhook_secret=SECRET,
                )
                async with DeliveryActivities(
                    config, DeliveryLedger(engine), Renderer(PROJECT_ROOT / "templates"), replies
                ) as deliveries:
                    for n in range(4):
                        receipt = await deliveries.deliver(customer_notice(n, "gone@fabrikam.example"))
                        assert receipt.channel == "sms"
        assert commits[0] == 4, "the email's refusal and the sms's delivery: one transaction"
        rows = DeliveryLedger(engine).for_case("case-p")
        assert (
            sorted((r["channel"], r["status"]) for r in rows)
            == [("email", "failed")] * 4 + [("sms", "sent")] * 4
        )
        assert len(seen) == 4 and len(set(seen)) == 1, "the four posts went over one HTTP connection"
    finally:
        engine.dispose()
        apart.dispose()


def test_a_batch_keeps_the_ledgers_guarantees(tmp_path: Path, database_url: str) -> None:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    try:
        ledger = DeliveryLedger(engine)
        ledger.record_all(
            [
                LedgerEntry("n-1", "case-b", "ack", "email", "failed", "550"),
                LedgerEntry("n-1", "case-b", "ack", "sms", "sent", ""),
                LedgerEntry("n-1", "case-b", "ack", "sms", "failed", "a late report of another attempt"),
            ]
        )
        ledger.record_all([])
        assert ledger.delivered("n-1") == "sms", "sent stays sent, within one batch too"
        rows = ledger.for_case("case-b")
        assert sorted((r["channel"], r["status"]) for r in rows) == [("email", "failed"), ("sms", "sent")]
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_without_a_sync_per_commit(tmp_path: Path) -> None:
    engine = open_database(Settings(var_dir=tmp_path / "var"))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


async def test_the_most_urgent_sender_gets_the_next_free_connection() -> None:
    """In a burst, the escalation to the duty manager (priority 1) goes out before the emails
    that were waiting for a connection before it (priority 2 and 3), not after them."""
    slots = Slots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def send(name: str, priority: int) -> None:
        async with slots.held(priority):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.create_task(send("first", 3))
    await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(send(n, p)) for n, p in [("notice", 3), ("customer", 2), ("escalation", 1)]
    ]
    cancelled = asyncio.create_task(send("gave up", 1))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "escalation", "customer", "notice"]

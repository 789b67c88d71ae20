"""Email out over SMTP: the message as casework sends it, and sending it over a pool of reused
connections, with a failure sorted into permanent or transient."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import io
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import EmailMessage
from email.message import Message as Mime
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any, Literal

import aiosmtplib

from adapters.messages import Message
from adapters.outbound import PermanentFailure, TransientFailure
from support.messaging.mail_text import server_text
from support.messaging.reply_addresses import reply_address

UTF8 = Charset("utf-8")
UTF8.header_encoding = QP  # readable where it is ASCII, in the subject and in the body
UTF8.body_encoding = QP


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 15.0
    # The name casework gives in EHLO (`CASEWORK_SMTP_HELO_NAME`): a smarthost may refuse one that
    # is not fully qualified (Postfix's reject_non_fqdn_helo_hostname refuses "localhost").
    helo_name: str = ""

    @property
    def ehlo_name(self) -> str:
        return self.helo_name or helo_default()


def helo_default() -> str:
    """The machine's fully qualified name, as the EHLO name when none is set."""
    return socket.getfqdn()


class _Unfolded(Compat32):
    """compat32 as casework sends it, except that the identifiers (`Message-ID`) stay on one line:
    a Message-ID of 67 characters after "Message-ID: " passed 78 and was folded with an empty
    first line (`Message-ID: \n <...>`), valid but a trap for naive parsers and spam rules."""

    def fold(self, name: str, value: str) -> str:
        if _unfolded(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        if _unfolded(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


def _unfolded(name: str, value: object) -> bool:
    return (
        name.lower() in _UNFOLDED
        and isinstance(value, str)
        and value.isascii()
        and "\n" not in value
        and "\r" not in value
    )


_UNFOLDED = frozenset({"message-id", "in-reply-to", "references"})
SENT_POLICY = _Unfolded(linesep="\r\n")


def as_sent(email: Mime) -> bytes:
    """The bytes of `email` as they go over SMTP (CRLF lines, identifiers unfolded)."""
    policy = email.policy.clone(linesep="\r\n") if isinstance(email, EmailMessage) else SENT_POLICY
    with io.BytesIO() as out:
        BytesGenerator(out, mangle_from_=False, policy=policy).flatten(email)
        return out.getvalue()


def recipients_of(email: Mime) -> list[str]:
    """The addresses of its To and Cc (casework's mail names one recipient)."""
    fields = [str(v) for name in ("To", "Cc") for v in email.get_all(name, [])]
    return [address for _, address in getaddresses(fields) if address]


def message_id(notification_id: str, domain: str) -> str:
    """Stable across retries, so mail systems can also drop a duplicate by Message-ID."""
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:40]}@{domain}>"


def case_email(
    message: Message,
    *,
    mail_from: str,
    to: str,
    case_id: str,
    notification_id: str,
    reply_to_domain: str,
    reply_key: bytes,
    to_staff: bool = False,
    staff_reply_to: str | None = None,
) -> Mime:
    """A notification's email: text and HTML, replies to the case's address, ids in headers.

    Every case's mail to the customer's side replies to its address, `case+<token>@<reply_to_domain>`
    with a token keyed with `reply_key` (`support.messaging.reply_addresses.reply_address`), 31 characters of
    local part whatever the case id's length; the caller records the token with its case before
    sending (adapters.reply_addresses), so the inbound listener finds the case. Mail `to_staff`
    (engineers, the support queue, the duty manager, account managers) has no Reply-To: a staff
    member's reply must not land on the case as if the customer had written it; mail to an engineer
    of the staff list replies to `staff_reply_to` (`support.messaging.reply_addresses.staff_reply_address`),
    which takes that engineer's own reply as their update (`interfaces.mail_in.staff_mail`).
    `Auto-Submitted: auto-generated` (RFC 3834): every mail casework sends is automatic, so a
    customer's out-of-office robot does not answer it.

    Built with the compat32 MIME classes: `EmailMessage` parses every header it is given into a
    structured object, which made building a message cost 3.6 ms against 1.1 ms here (measured,
    bench.case_profile: email building was the largest share of a case's worker CPU)."""
    mail = MIMEMultipart("alternative")
    mail["From"] = mail_from
    mail["To"] = to
    mail["Subject"] = (
        message.subject
        if message.subject.isascii()
        else Header(message.subject, UTF8, header_name="Subject").encode()
    )
    mail["Message-ID"] = message_id(notification_id, reply_to_domain)
    if not to_staff:
        mail["Reply-To"] = reply_address(case_id, reply_to_domain, reply_key)
    elif staff_reply_to is not None:
        mail["Reply-To"] = staff_reply_to
    mail["Auto-Submitted"] = "auto-generated"
    mail["Date"] = formatdate(usegmt=True)
    mail["X-Casework-Case"] = case_id
    mail["X-Casework-Notification"] = notification_id
    mail["Content-Language"] = message.language
    mail.attach(_text(message.text, "plain"))
    mail.attach(_text(message.html, "html"))
    return mail


def _text(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(body, UTF8)
    return part


class Slots:
    """At most `size` holders at once; those waiting are let in most urgent first (priority 1
    before 3, as `support.messaging.notifications.urgency` orders deliveries), then in arrival order. (An
    asyncio.Semaphore lets them in by arrival only: in a burst, the duty manager's escalation,
    first off the task queue, waited behind every email the worker had already taken.)"""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @contextlib.asynccontextmanager
    async def held(self, priority: int) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (priority, next(self._arrivals), turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # let in just as it was cancelled: the slot goes on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():  # a cancelled waiter is skipped
                turn.set_result(None)
                return
        self._free += 1


class SmtpPool:
    """Open connections to one SMTP server, each reused for the next message while it is healthy.

    At most `size` connections are open, each carrying one message at a time: more concurrent
    senders wait for a free one, the most urgent first (`Slots`). A connection goes back to the
    pool only after a message it carried was accepted; after any failure it is closed. One idle
    for more than `max_idle_seconds` (servers drop idle clients, RFC 5321 suggests after 5
    minutes) or that has carried `max_messages` is closed instead of reused. When a reused
    connection turns out to have been dropped by the server (it closed it while idle, or answers
    421 "closing channel", e.g. at its limit of messages per connection), the message is sent once
    more, on a fresh connection. A failure is sorted for the activity's retry: a 5xx refusal is
    permanent; a 4xx reply, an unreachable server or a timeout is transient. (Should a server take
    a message and drop the connection before its "250" reached us, the message goes twice, as it
    would on the activity's retry; both carry the same Message-ID.) Close the pool when done
    (`await pool.close()`): idle connections are ended with QUIT.
    """

    def __init__(
        self,
        server: SmtpServer,
        *,
        size: int = 8,
        max_idle_seconds: float = 30.0,
        max_messages: int = 100,
    ) -> None:
        if size < 1:
            raise ValueError("an SMTP pool holds at least one connection")
        self.server = server
        self.size = size
        self.max_idle_seconds = max_idle_seconds
        self.max_messages = max_messages
        self.opened = 0  # connections opened over the pool's life (benchmarks and tests read it)
        self._idle: list[_Connection] = []
        self._slots = Slots(size)
        self._closed = False

    async def send(self, email: Mime, priority: int = 3, envelope_from: str | None = None) -> None:
        """Send one email over a pooled connection (see the class); `priority` 1 goes first.
        `envelope_from`: the MAIL FROM (where bounces go), by default the From address."""
        if self._closed:
            raise RuntimeError("the SMTP pool is closed")
        async with self._slots.held(priority):
            with _sorted_failures(self.server):
                connection = self._reusable()
                if connection is not None:
                    try:
                        await self._send_on(connection, email, envelope_from)
                        return
                    except (aiosmtplib.SMTPException, ConnectionError) as error:
                        if not _let_go(error):
                            raise
                        # The server had let the connection go: once more, on a fresh one.
                await self._send_on(await self._open(), email, envelope_from)

    async def close(self) -> None:
        """End idle connections with QUIT (briefly: a dead server does not hold the shutdown up)."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(c.quit() for c in idle))

    def _reusable(self) -> _Connection | None:
        """The most recently used idle connection that is still worth reusing; the others that
        are not are closed on the way."""
        while self._idle:
            connection = self._idle.pop()
            if (
                connection.smtp.is_connected
                and time.monotonic() - connection.idle_since <= self.max_idle_seconds
            ):
                return connection
            connection.smtp.close()
        return None

    async def _open(self) -> _Connection:
        smtp = aiosmtplib.SMTP(**_connection_options(self.server))
        try:
            await smtp.connect()  # STARTTLS and login as configured, as aiosmtplib.send does
        except BaseException:
            smtp.close()  # e.g. connected, then refused the login
            raise
        self.opened += 1
        return _Connection(smtp)

    async def _send_on(self, connection: _Connection, email: Mime, envelope_from: str | None) -> None:
        """Send on `connection`; it goes back to the pool if the message was taken, else it is closed."""
        sender = envelope_from if envelope_from is not None else parseaddr(str(email["From"]))[1]
        try:
            await connection.smtp.sendmail(sender, recipients_of(email), as_sent(email))
        except BaseException:
            connection.smtp.close()
            raise
        connection.messages += 1
        if self._closed or connection.messages >= self.max_messages:
            await connection.quit()
        else:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)


def _let_go(error: Exception) -> bool:
    """The server dropped the connection: it closed it, or answered 421 ("service not available,
    closing transmission channel")."""
    if isinstance(error, ConnectionError):  # SMTPServerDisconnected, a reset, a broken pipe
        return True
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code == _CLOSING for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code == _CLOSING


_CLOSING = 421


@dataclass
class _Connection:
    smtp: aiosmtplib.SMTP
    messages: int = 0
    idle_since: float = 0.0

    async def quit(self) -> None:
        try:
            await asyncio.wait_for(self.smtp.quit(), timeout=1.0)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            self.smtp.close()


def _connection_options(server: SmtpServer) -> dict[str, Any]:
    return {
        "hostname": server.host,
        "port": server.port,
        "use_tls": server.security == "tls",
        "start_tls": server.security == "starttls",
        "username": server.username,
        "password": server.password,
        "timeout": server.timeout_seconds,
        "local_hostname": server.ehlo_name,
    }


@contextmanager
def _sorted_failures(server: SmtpServer) -> Iterator[None]:
    """A 5xx refusal is a PermanentFailure; a 4xx reply, a server that cannot be reached or a
    timeout is a TransientFailure."""
    try:
        yield
    except aiosmtplib.SMTPRecipientsRefused as refused:
        said = "; ".join(server_said(r.code, r.message) for r in refused.recipients)
        if all(r.code >= 500 for r in refused.recipients):
            raise PermanentFailure(f"SMTP refused the recipient: {said}") from None
        raise TransientFailure(f"SMTP deferred the recipient: {said}", "SmtpTransient") from None
    except aiosmtplib.SMTPResponseException as error:
        said = server_said(error.code, error.message)
        if error.code >= 500:
            raise PermanentFailure(f"SMTP refused the message: {said}") from None
        raise TransientFailure(f"SMTP deferred the message: {said}", "SmtpTransient") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise TransientFailure(
            f"mail server {server.host}:{server.port} unavailable ({type(error).__name__})",
            "SmtpUnavailable",
        ) from None


def server_said(code: int, text: str) -> str:
    """A server's reply as kept with a failure: its code and text on one line, addresses masked
    (the text often repeats the recipient's), bounded (`support.messaging.mail_text.server_text`)."""
    return server_text(f"{code} {text}")

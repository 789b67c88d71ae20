"""Email out over SMTP: the message as casework sends it, and one send with its failure sorted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib

from adapters.messages import Message
from adapters.outbound import PermanentFailure, TransientFailure


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 15.0


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
) -> EmailMessage:
    """A notification's email: text and HTML, replies to the case's address, ids in headers."""
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = to
    email["Subject"] = message.subject
    email["Message-ID"] = message_id(notification_id, reply_to_domain)
    email["Reply-To"] = f"case+{case_id}@{reply_to_domain}"
    email["Date"] = formatdate(usegmt=True)
    email["X-Casework-Case"] = case_id
    email["X-Casework-Notification"] = notification_id
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    email["Content-Language"] = message.language  # after the body: set_content drops Content-* headers
    return email


async def send_email(server: SmtpServer, email: EmailMessage) -> None:
    """Send one email. A 5xx refusal is a PermanentFailure; a 4xx reply, a server that cannot be
    reached or a timeout is a TransientFailure."""
    try:
        await aiosmtplib.send(
            email,
            hostname=server.host,
            port=server.port,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            username=server.username,
            password=server.password,
            timeout=server.timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as refused:
        codes = [r.code for r in refused.recipients]
        if all(code >= 500 for code in codes):
            raise PermanentFailure(f"SMTP refused the recipient ({codes})") from None
        raise TransientFailure(f"SMTP deferred the recipient ({codes})", "SmtpTransient") from None
    except aiosmtplib.SMTPResponseException as error:
        if error.code >= 500:
            raise PermanentFailure(f"SMTP {error.code}") from None
        raise TransientFailure(f"SMTP {error.code}", "SmtpTransient") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        raise TransientFailure(
            f"mail server {server.host}:{server.port} unavailable ({type(error).__name__})",
            "SmtpUnavailable",
        ) from None

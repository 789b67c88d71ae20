"""An SMTP sink (aiosmtpd) for `make run` and tests: every message is kept as a file under var/mail/.

A new user sees the acknowledgement email of their first case without configuring anything
(`python starter.py outbox`), and tests assert on what really arrived over SMTP.
"""

from __future__ import annotations

import email
import email.policy
import os
import socket
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from adapters.private_dir import DIR_MODE, FILE_MODE


class _Keep:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self._directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        recipients = ", ".join(envelope.rcpt_tos)
        # 0600 whatever the umask: messages hold verification codes and customers' contact data.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as kept:
            kept.write(f"X-Envelope-To: {recipients}\r\n".encode() + envelope.content)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailSink:
    """A real SMTP server on loopback that keeps messages as .eml files."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._controller = Controller(_Keep(directory), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def read_mailbox(directory: Path) -> list[EmailMessage]:
    """Messages in arrival order."""
    if not directory.exists():
        return []
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(directory.glob("*.eml"))
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""

"""Reading a delivery status notification (RFC 3464): a mail server's report that it could not
deliver a mail casework sent (a bounce), or that delivery is delayed.

Only the report's beginning is parsed (`REPORT_BYTES`: the human-readable part and the
`message/delivery-status` part come before the returned message, which may be as large as the
mail was), with the MIME parser bounded as for replies (`adapters.mail_reader.MailLimits`), in a
child process like every received mail (`adapters.mail_reader_process`). What is kept is bounded:
the action, the status code and the remote server's text (`Diagnostic-Code`), one line each, the
addresses in it masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Final

from adapters.mail_reader import MailLimits, MailRefused, _LimitedParser, unreadable
from support.messaging.mail_text import server_text

REPORT_BYTES: Final = 256 * 1024  # of a report parsed, at most: its report part comes first
TEXT_MAX: Final = 300  # characters of the remote server's text kept
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class DeliveryReport:
    """What a report says of the first recipient it reports on: `action` (RFC 3464: failed,
    delayed, delivered, relayed, expanded; '' when the mail is not a delivery report), `status`
    (5.1.1), and the remote server's text (its Diagnostic-Code, else the status), one line."""

    action: str
    status: str
    diagnostic: str

    @property
    def failed(self) -> bool:
        return self.action == "failed"


NOT_A_REPORT: Final = DeliveryReport(action="", status="", diagnostic="")


def read_report(raw: bytes, limits: MailLimits) -> DeliveryReport:
    """The delivery report a mail carries (`NOT_A_REPORT` when it carries none: an out-of-office
    message sent to the envelope sender, say). Raises MailRefused when it cannot be parsed within
    the limits."""
    try:
        parser = _LimitedParser(limits)
        parser.feed(raw[:REPORT_BYTES])
        message = parser.close()
        assert isinstance(message, EmailMessage)
        return _report_in(message)
    except MailRefused:
        raise
    except RecursionError:
        raise unreadable("its structure is nested too deep") from None
    except Exception as error:
        raise unreadable(f"malformed ({type(error).__name__})") from None


def _report_in(message: Message) -> DeliveryReport:
    if message.get_content_type() != "multipart/report":
        return NOT_A_REPORT
    for part in message.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            return NOT_A_REPORT
        recipients = [b for b in blocks[1:] if isinstance(b, Message)]  # the first block is per message
        chosen = next((b for b in recipients if _field(b, "Action").lower() == "failed"), None)
        chosen = chosen or (recipients[0] if recipients else None)
        if chosen is None:
            return NOT_A_REPORT
        action = _field(chosen, "Action").lower().split()[0] if _field(chosen, "Action") else ""
        status_match = _STATUS.search(_field(chosen, "Status"))
        status = status_match[0] if status_match else ""
        diagnostic = _field(chosen, "Diagnostic-Code")
        _, semicolon, text = diagnostic.partition(";")
        said = (text if semicolon else diagnostic).strip() or status
        return DeliveryReport(action=action[:20], status=status, diagnostic=server_text(said))
    return NOT_A_REPORT


def _field(block: Message, name: str) -> str:
    value = block.get(name, "")
    return " ".join(str(value).split())[:TEXT_MAX] if value else ""

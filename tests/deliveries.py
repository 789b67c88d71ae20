"""What a case really delivered: the delivery ledger and the SMTP sink's mailbox.

Deliveries run beside the workflow, so these helpers wait (briefly, in real time) until what a
test expects has arrived instead of racing it.
"""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage

from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger
from adapters.mail_sink import read_mailbox, text_of
from adapters.settings import Settings


def ledger(settings: Settings, case_id: str) -> list[dict[str, object]]:
    engine = open_database(settings)
    try:
        return DeliveryLedger(engine).for_case(case_id)
    finally:
        engine.dispose()


def _sent(settings: Settings, case_id: str) -> list[str]:
    return [str(r["notification_id"]) for r in ledger(settings, case_id) if r["status"] == "sent"]


async def delivered(settings: Settings, case_id: str, *expected: str, settle: float = 0.0) -> list[str]:
    """Ids delivered for the case, once every `expected` fragment is among them (10 s at most)."""
    ids: list[str] = []
    for _ in range(200):
        ids = _sent(settings, case_id)
        if all(any(fragment in i for i in ids) for fragment in expected):
            break
        await asyncio.sleep(0.05)
    if settle:
        await asyncio.sleep(settle)
        ids = _sent(settings, case_id)
    return ids


async def events(
    settings: Settings, case_id: str, *expected: str, settle: float = 0.0
) -> list[tuple[str, str]]:
    """(event, audience) of every delivered notification: 'case/event/seq/audience'."""
    ids = await delivered(settings, case_id, *expected, settle=settle)
    return [(i.split("/")[1], i.split("/")[3]) for i in ids]


def mails(settings: Settings, case_id: str | None = None) -> list[EmailMessage]:
    return [m for m in read_mailbox(settings.mail_dir) if case_id is None or m["X-Casework-Case"] == case_id]


async def verification_code(settings: Settings, case_id: str) -> str:
    """The code as the customer reads it in the newest verification email."""
    await delivered(settings, case_id, "/verification_code/")
    messages = [
        m for m in mails(settings, case_id) if "/verification_code/" in str(m["X-Casework-Notification"])
    ]
    match = re.search(r"\b(\d{6})\b", text_of(messages[-1]))
    assert match, "the verification email carries a 6-digit code"
    return match[1]

"""Held mail: replies that may be a robot's or a person's (`support.inbound_mail.mail_kind`), kept
in the database until an operator releases them onto their case, never dropped unseen.

The raw mail is personal data: it is stored as a Temporal payload, sealed by the payload codec
(`adapters.codec.EncryptionCodec`, the key ring of CASEWORK_ENCRYPTION_KEY and its previous keys)
when one is set, and read back through the same codec (a mail held before the key was set reads
as it is). A release is claimed in the database first (`claim`), so two operators releasing the
same mail at once deliver it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from adapters.schema import mail_quarantine


@dataclass(frozen=True)
class HeldMail:
    """One held mail as an operator lists it (no content: `MailQuarantine.content`)."""

    quarantine_id: int
    case_id: str
    tenant_id: str
    message_hash: str
    sender: str  # masked
    reason: str
    size: int
    received_at: datetime
    released_at: datetime | None
    outcome: str | None


async def seal(codec: PayloadCodec | None, raw: bytes) -> bytes:
    payload = Payload(metadata={"encoding": b"binary/plain"}, data=raw)
    if codec is not None:
        [payload] = await codec.encode([payload])
    return payload.SerializeToString()


async def unseal(codec: PayloadCodec | None, stored: bytes) -> bytes:
    """The raw mail; raises (ValueError) for a sealed mail without its key."""
    payload = Payload.FromString(stored)
    if codec is not None:
        [payload] = await codec.decode([payload])
    elif payload.metadata.get("encoding") != b"binary/plain":
        raise ValueError("the held mail is encrypted: set CASEWORK_ENCRYPTION_KEY to release it")
    return bytes(payload.data)


class MailQuarantine:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def hold(
        self,
        case_id: str,
        tenant_id: str,
        message_hash: str,
        sender: str,
        reason: str,
        size: int,
        content: bytes,
    ) -> int:
        """Keep a mail (its `seal`ed content); the id of its row (the same mail again: the same row)."""
        try:
            with self._engine.begin() as connection:
                inserted = connection.execute(
                    insert(mail_quarantine).values(
                        case_id=case_id,
                        tenant_id=tenant_id,
                        message_hash=message_hash,
                        sender=sender[:254],
                        reason=reason[:300],
                        size=size,
                        content=content,
                        received_at=datetime.now(UTC),
                    )
                )
                key = inserted.inserted_primary_key
                assert key is not None
                return int(key[0])
        except IntegrityError:
            held = self.find(case_id, message_hash)
            assert held is not None
            return held.quarantine_id

    def find(self, case_id: str, message_hash: str) -> HeldMail | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(*_LISTED).where(
                    mail_quarantine.c.case_id == case_id, mail_quarantine.c.message_hash == message_hash
                )
            ).first()
        return None if row is None else HeldMail(**row._mapping)

    def listed(self, include_released: bool = False, limit: int = 500) -> list[HeldMail]:
        """The held mail, oldest first (with the released ones when asked)."""
        query = select(*_LISTED).order_by(mail_quarantine.c.quarantine_id).limit(limit)
        if not include_released:
            query = query.where(mail_quarantine.c.released_at.is_(None))
        with self._engine.connect() as connection:
            return [HeldMail(**row._mapping) for row in connection.execute(query)]

    def get(self, quarantine_id: int) -> HeldMail | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(*_LISTED).where(mail_quarantine.c.quarantine_id == quarantine_id)
            ).first()
        return None if row is None else HeldMail(**row._mapping)

    def content(self, quarantine_id: int) -> bytes:
        with self._engine.connect() as connection:
            stored = connection.execute(
                select(mail_quarantine.c.content).where(mail_quarantine.c.quarantine_id == quarantine_id)
            ).scalar_one()
        return bytes(stored)

    def claim(self, quarantine_id: int) -> bool:
        """Mark the mail released, if nobody has: True for the one caller that may deliver it."""
        with self._engine.begin() as connection:
            claimed = connection.execute(
                update(mail_quarantine)
                .where(
                    mail_quarantine.c.quarantine_id == quarantine_id, mail_quarantine.c.released_at.is_(None)
                )
                .values(released_at=datetime.now(UTC))
            )
        return claimed.rowcount == 1

    def settle(self, quarantine_id: int, outcome: str, released: bool) -> None:
        """Record the release's outcome; a release that did not land is held again."""
        values: dict[str, object] = {"outcome": outcome[:300]}
        if not released:
            values["released_at"] = None
        with self._engine.begin() as connection:
            connection.execute(
                update(mail_quarantine)
                .where(mail_quarantine.c.quarantine_id == quarantine_id)
                .values(**values)
            )


_LISTED = (
    mail_quarantine.c.quarantine_id,
    mail_quarantine.c.case_id,
    mail_quarantine.c.tenant_id,
    mail_quarantine.c.message_hash,
    mail_quarantine.c.sender,
    mail_quarantine.c.reason,
    mail_quarantine.c.size,
    mail_quarantine.c.received_at,
    mail_quarantine.c.released_at,
    mail_quarantine.c.outcome,
)

"""Held mail: replies that may be a robot's or a person's (`support.messaging.reply_addresses.mail_kind`),
kept
in the database until an operator releases them onto their case, never dropped unseen.

The raw mail is personal data: with a key ring (CASEWORK_ENCRYPTION_KEY and its previous keys) it
is sealed (`adapters.codec.sealed_value`: AES-256-GCM bound to this column, case and mail, so a
mail copied onto another case's row does not open) and the row names its key (`key_id`); a mail
held before the key was set (no key id) reads as it is. A release is claimed in the database first
(`claim`), so two operators releasing the same mail at once deliver it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from adapters.codec import KeyRing, opened_value, sealed_value
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


def _context(case_id: str, message_hash: str) -> bytes:
    """What a held mail's sealed content is bound to: this column of this case's mail."""
    return b"mail_quarantine.content\0" + case_id.encode() + b"\0" + message_hash.encode()


class MailQuarantine:
    def __init__(self, engine: Engine, keys: KeyRing | None) -> None:
        """`keys`: seal the mail held from now on (and open what was sealed); None: in clear."""
        self._engine = engine
        self._keys = keys

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
        """Keep a mail (`content`: the raw mail, sealed here when there is a key ring); the id of its
        row (the same mail again: the same row)."""
        sealed, kid = sealed_value(self._keys, content, _context(case_id, message_hash))
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
                        content=sealed,
                        key_id=kid,
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
        """The raw mail. Raises SealError (a ValueError) when it is sealed with a key this process
        has not, or was moved onto another case's row."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    mail_quarantine.c.case_id,
                    mail_quarantine.c.message_hash,
                    mail_quarantine.c.content,
                    mail_quarantine.c.key_id,
                ).where(mail_quarantine.c.quarantine_id == quarantine_id)
            ).one()
        context = _context(row.case_id, row.message_hash)
        what = f"held mail {quarantine_id}"
        return opened_value(self._keys, row.key_id, bytes(row.content), context, what)

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

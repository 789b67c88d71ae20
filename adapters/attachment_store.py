"""Where customers' email replies are recorded: which mails each case has taken (so one mail is one
message however often a sending server delivers it), and their attachments' bytes, kept in the
database and not in the workflow's state (the case lists only `AttachmentRef`s).

Each call is one short transaction; callers in async code run them in a thread.

With a key ring (the codec's keys, CASEWORK_ENCRYPTION_KEY) an attachment's name and bytes are
sealed (AES-256-GCM, bound to the attachment's id) and the row names its key (`key_id`); its
size, type, case and tenant stay in clear. A row without a key id was stored in clear (before the
key was set) and is read as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from adapters.codec import KeyRing, opened_text, opened_value, sealed_text, sealed_value
from adapters.schema import attachments, inbound_messages
from support.case.actions import AttachmentRef


@dataclass(frozen=True)
class StoredAttachment:
    case_id: str
    tenant_id: str
    filename: str
    content_type: str
    content: bytes = field(repr=False)


def attachment_id(case_id: str, message_hash: str, number: int, content: bytes) -> str:
    """The id a case lists: SHA-256 of the case, the mail, the attachment's place in it and its
    bytes. The same mail delivered again gives the same ids; the same file on two cases, two."""
    digest = hashlib.sha256()
    for piece in (case_id.encode(), message_hash.encode(), str(number).encode()):
        digest.update(piece + b"\x00")
    digest.update(content)
    return digest.hexdigest()


def _context(column: str, key: str) -> bytes:
    """What a sealed value is bound to: this column of this attachment."""
    return f"attachments.{column}\x00{key}".encode()


class AttachmentStore:
    def __init__(self, engine: Engine, keys: KeyRing | None = None) -> None:
        """`keys`: seal what is stored from now on (and open what was sealed); None stores in clear."""
        self._engine = engine
        self._keys = keys

    def _sealed(self, key: str, filename: str, content: bytes) -> dict[str, object]:
        name, kid = sealed_text(self._keys, filename, _context("filename", key))
        body, _ = sealed_value(self._keys, content, _context("content", key))
        return {"filename": name, "content": body, "key_id": kid}

    def _opened(self, key: str, kid: str | None, filename: str, content: bytes) -> tuple[str, bytes]:
        what = f"attachment {key}"
        return (
            opened_text(self._keys, kid, filename, _context("filename", key), what),
            opened_value(self._keys, kid, content, _context("content", key), what),
        )

    def received(self, case_id: str, message_hash: str) -> bool:
        """The case already took this mail."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(inbound_messages.c.case_id).where(
                    inbound_messages.c.case_id == case_id, inbound_messages.c.message_hash == message_hash
                )
            ).first()
        return row is not None

    def mark_received(self, case_id: str, message_hash: str) -> None:
        """Record that the case took this mail (a second record of it is no error)."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(inbound_messages).values(
                        case_id=case_id, message_hash=message_hash, received_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            pass  # recorded by a delivery of the same mail that ran at the same time

    def store(
        self,
        case_id: str,
        tenant_id: str,
        message_hash: str,
        files: list[tuple[str, str, bytes]],
    ) -> list[AttachmentRef]:
        """Keep a mail's attachments (filename, content type, bytes) in one transaction and return
        what the case lists of them. Storing the same mail again keeps one copy of each (two
        deliveries of it at once: the one that lost the race finds the other's rows)."""
        try:
            return self._store(case_id, tenant_id, message_hash, files)
        except IntegrityError:
            return self._store(case_id, tenant_id, message_hash, files)

    def _store(
        self, case_id: str, tenant_id: str, message_hash: str, files: list[tuple[str, str, bytes]]
    ) -> list[AttachmentRef]:
        refs: list[AttachmentRef] = []
        with self._engine.begin() as connection:
            for number, (filename, content_type, content) in enumerate(files, start=1):
                key = attachment_id(case_id, message_hash, number, content)
                refs.append(
                    AttachmentRef(
                        attachment_id=key, filename=filename, content_type=content_type, size=len(content)
                    )
                )
                exists = connection.execute(
                    select(attachments.c.attachment_id).where(attachments.c.attachment_id == key)
                ).first()
                if exists is not None:
                    continue
                connection.execute(
                    insert(attachments).values(
                        attachment_id=key,
                        case_id=case_id,
                        tenant_id=tenant_id,
                        message_hash=message_hash,
                        content_type=content_type,
                        size=len(content),
                        stored_at=datetime.now(UTC),
                        **self._sealed(key, filename, content),
                    )
                )
        return refs

    def discard(self, case_id: str, message_hash: str) -> None:
        """Drop the attachments of a mail the case refused: nothing lists them, nobody may read them."""
        with self._engine.begin() as connection:
            connection.execute(
                delete(attachments).where(
                    attachments.c.case_id == case_id, attachments.c.message_hash == message_hash
                )
            )

    def held(self, case_id: str) -> tuple[int, int]:
        """How many files this case holds (from mail and uploads alike), and their bytes."""
        with self._engine.connect() as connection:
            count, size = connection.execute(
                select(func.count(), func.coalesce(func.sum(attachments.c.size), 0)).where(
                    attachments.c.case_id == case_id
                )
            ).one()
        return int(count), int(size)

    def get(self, case_id: str, attachment_id: str) -> StoredAttachment | None:
        """An attachment of this case (an id of another case is none of its attachments)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    attachments.c.case_id,
                    attachments.c.tenant_id,
                    attachments.c.filename,
                    attachments.c.content_type,
                    attachments.c.content,
                    attachments.c.key_id,
                ).where(attachments.c.attachment_id == attachment_id, attachments.c.case_id == case_id)
            ).first()
        if row is None:
            return None
        filename, content = self._opened(attachment_id, row.key_id, row.filename, bytes(row.content))
        return StoredAttachment(
            case_id=row.case_id,
            tenant_id=row.tenant_id,
            filename=filename,
            content_type=row.content_type,
            content=content,
        )

"""Files uploaded before the case that names them is opened (`POST /attachments`, the Contact
form): kept in the attachment store (sealed like every attachment) in the tenant's box of
uploads, `uploads.<tenant>` where a case id would be (no case id looks like it, and another
tenant's box is another key). An opening takes them into its case (`application.opening_files`);
an upload no case took within `UPLOAD_TTL` is not taken any more and is dropped at the tenant's
next upload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from adapters.attachment_store import AttachmentStore, StoredAttachment
from adapters.codec import KeyRing
from adapters.schema import attachments
from support.case.actions import AttachmentRef

UPLOAD_TTL = timedelta(days=1)


def upload_box(tenant_id: str) -> str:
    """Where a tenant's uploads wait (in the attachments table's case column)."""
    return f"uploads.{tenant_id}"


@dataclass(frozen=True)
class Upload:
    upload_id: str
    file: StoredAttachment


class OpeningUploads:
    def __init__(self, engine: Engine, keys: KeyRing | None = None) -> None:
        self._engine = engine
        self._store = AttachmentStore(engine, keys)

    def keep(
        self, tenant_id: str, filename: str, content_type: str, content: bytes, now: datetime
    ) -> AttachmentRef:
        """Keep one upload; the same file under the same name is the same upload (the same id)."""
        self._drop_expired(tenant_id, now)
        digest = hashlib.sha256(b"upload\x00" + filename.encode() + b"\x00" + content).hexdigest()
        [ref] = self._store.store(
            upload_box(tenant_id), tenant_id, digest, [(filename, content_type, content)]
        )
        return ref

    def held(self, tenant_id: str) -> tuple[int, int]:
        """How many uploads the tenant has waiting, and their bytes."""
        return self._store.held(upload_box(tenant_id))

    def take(self, tenant_id: str, upload_id: str, now: datetime) -> StoredAttachment | None:
        """The tenant's upload, if it is there and fresh (another tenant's id is none of its)."""
        box = upload_box(tenant_id)
        with self._engine.connect() as connection:
            stored_at = connection.execute(
                select(attachments.c.stored_at).where(
                    attachments.c.attachment_id == upload_id, attachments.c.case_id == box
                )
            ).scalar()
        if stored_at is None or _aware(stored_at) < now - UPLOAD_TTL:
            return None
        return self._store.get(box, upload_id)

    def drop(self, tenant_id: str, upload_ids: list[str]) -> None:
        """The case holds its own copies now."""
        with self._engine.begin() as connection:
            connection.execute(
                delete(attachments).where(
                    attachments.c.case_id == upload_box(tenant_id),
                    attachments.c.attachment_id.in_(upload_ids),
                )
            )

    def _drop_expired(self, tenant_id: str, now: datetime) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(attachments).where(
                    attachments.c.case_id == upload_box(tenant_id), attachments.c.stored_at < now - UPLOAD_TTL
                )
            )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)

"""The case's thread in the database (`case_messages`): each message written once, read a page at
a time in the case's order.

Who wrote a message, its text and its attachments' names are personal data: they are kept as one
payload sealed with the key ring the workflow payloads use (`adapters.codec.EncryptionCodec`:
AES-256-GCM, the key's id in the payload, previous keys still open old rows), when one is set.
Rows written without a key stay readable after a key is set, as payloads do.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from adapters.delivery_ledger import dialect_insert
from adapters.schema import case_messages
from support.actions import AttachmentRef
from support.thread_message import MessageKind, ThreadMessage
from support.vocabulary import Via

PLAIN = b"json/plain"


class MessageStore:
    def __init__(self, engine: Engine, codec: PayloadCodec | None = None) -> None:
        self._engine = engine
        self._codec = codec

    async def write(self, message: ThreadMessage) -> bool:
        """Keep `message` (True), or nothing when its (case, seq) is kept already (False): a
        retried activity writes nothing twice."""
        sealed = await self._seal(message)
        return await asyncio.to_thread(self._insert, message, sealed)

    def _insert(self, message: ThreadMessage, sealed: bytes) -> bool:
        with self._engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            result = connection.execute(
                insert(case_messages)
                .values(
                    case_id=message.case_id,
                    seq=message.seq,
                    tenant_id=message.tenant_id,
                    at=message.at,
                    kind=message.kind.value,
                    role=message.role,
                    via=message.via.value,
                    internal=message.internal,
                    sealed=sealed,
                    written_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[case_messages.c.case_id, case_messages.c.seq])
                .returning(case_messages.c.seq)  # a row only when this call wrote it (any driver)
            )
            return result.first() is not None

    async def page(
        self, case_id: str, after: int, limit: int, with_internal: bool
    ) -> tuple[list[ThreadMessage], bool]:
        """Up to `limit` messages after seq `after`, in order, and whether more follow."""
        rows = await asyncio.to_thread(self._select, case_id, after, limit + 1, with_internal)
        messages = [await self._open(row) for row in rows[:limit]]
        return messages, len(rows) > limit

    def _select(self, case_id: str, after: int, limit: int, with_internal: bool) -> list[tuple[object, ...]]:
        query = select(
            case_messages.c.case_id,
            case_messages.c.tenant_id,
            case_messages.c.seq,
            case_messages.c.at,
            case_messages.c.kind,
            case_messages.c.role,
            case_messages.c.via,
            case_messages.c.internal,
            case_messages.c.sealed,
        ).where(case_messages.c.case_id == case_id, case_messages.c.seq > after)
        if not with_internal:
            query = query.where(case_messages.c.internal.is_(False))
        with self._engine.connect() as connection:
            return [
                tuple(row) for row in connection.execute(query.order_by(case_messages.c.seq).limit(limit))
            ]

    async def _seal(self, message: ThreadMessage) -> bytes:
        words = {
            "author": message.author,
            "about": message.about,
            "body": message.body,
            "attachments": [a.model_dump(mode="json") for a in message.attachments],
        }
        payload = Payload(metadata={"encoding": PLAIN}, data=json.dumps(words, ensure_ascii=False).encode())
        if self._codec is not None:
            [payload] = await self._codec.encode([payload])
        return payload.SerializeToString()

    async def _open(self, row: tuple[object, ...]) -> ThreadMessage:
        case_id, tenant_id, seq, at, kind, role, via, internal, sealed = row
        payload = Payload.FromString(bytes(sealed))  # type: ignore[call-overload]
        if self._codec is not None:
            [payload] = await self._codec.decode([payload])
        if payload.metadata.get("encoding") != PLAIN:
            raise SealedMessage(
                f"message {seq} of {case_id} is sealed: set CASEWORK_ENCRYPTION_KEY to read it"
            )
        words = json.loads(payload.data)
        return ThreadMessage(
            case_id=str(case_id),
            tenant_id=str(tenant_id),
            seq=int(str(seq)),
            at=at,
            kind=MessageKind(str(kind)),
            role="staff" if role == "staff" else "customer",
            author=words["author"],
            via=Via(str(via)),
            internal=bool(internal),
            about=words.get("about"),
            body=words["body"],
            attachments=[AttachmentRef.model_validate(a) for a in words.get("attachments", [])],
        )


class SealedMessage(RuntimeError):
    """A message sealed with a key this process does not have."""

"""The case's thread in the database (`case_messages`): each message written once, read a page at
a time in the case's order.

Who wrote a message, its text and its attachments' names are personal data: they are kept as one
JSON value (`sealed`), sealed with the key ring the workflow payloads use when one is set
(`adapters.codec.sealed_value`: AES-256-GCM bound to this table, column, case and seq, so a message
copied onto another case's row does not open) and the row names its key (`key_id`; previous keys
still open old rows). Rows written without a key (no key id) stay readable after a key is set.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from adapters.codec import KeyRing, opened_value, sealed_value
from adapters.console_cases import ConsoleCases
from adapters.delivery_ledger import dialect_insert
from adapters.schema import case_messages
from support.case.actions import AttachmentRef
from support.case.thread_message import MessageKind, ThreadMessage
from support.policies.vocabulary import Via


def _context(case_id: str, seq: int) -> bytes:
    """What a message's sealed words are bound to: this column of this case's message `seq`."""
    return b"case_messages.sealed\0" + case_id.encode() + b"\0" + str(seq).encode()


class MessageStore:
    def __init__(self, engine: Engine, keys: KeyRing | None) -> None:
        """`keys`: seal what is written from now on (and open what was sealed); None: in clear."""
        self._engine = engine
        self._keys = keys
        self._index = ConsoleCases(engine, keys)  # the console's search: fed here, written once

    async def write(self, message: ThreadMessage) -> bool:
        """Keep `message` (True), or nothing when its (case, seq) is kept already (False): a
        retried activity writes nothing twice."""
        return await asyncio.to_thread(self._insert, message)

    def _insert(self, message: ThreadMessage) -> bool:
        sealed, kid = self._sealed(message)
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
                    key_id=kid,
                    written_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[case_messages.c.case_id, case_messages.c.seq])
                .returning(case_messages.c.seq)  # a row only when this call wrote it (any driver)
            )
            written = result.first() is not None
            if written:  # a customer's name is searchable; staff names are not (customers search too)
                who = message.author if message.role == "customer" else ""
                words = " ".join(w for w in (who, message.about or "", message.body) if w)
                self._index.index_message(
                    connection, message.case_id, message.seq, message.tenant_id, message.internal, words
                )
            return written

    async def page(
        self, case_id: str, after: int, limit: int, with_internal: bool
    ) -> tuple[list[ThreadMessage], bool]:
        """Up to `limit` messages after seq `after`, in order, and whether more follow."""
        rows = await asyncio.to_thread(self._select, case_id, after, limit + 1, with_internal)
        messages = [self._opened(row) for row in rows[:limit]]
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
            case_messages.c.key_id,
        ).where(case_messages.c.case_id == case_id, case_messages.c.seq > after)
        if not with_internal:
            query = query.where(case_messages.c.internal.is_(False))
        with self._engine.connect() as connection:
            return [
                tuple(row) for row in connection.execute(query.order_by(case_messages.c.seq).limit(limit))
            ]

    def _sealed(self, message: ThreadMessage) -> tuple[bytes, str | None]:
        words = {
            "author": message.author,
            "about": message.about,
            "body": message.body,
            "attachments": [a.model_dump(mode="json") for a in message.attachments],
        }
        plain = json.dumps(words, ensure_ascii=False).encode()
        return sealed_value(self._keys, plain, _context(message.case_id, message.seq))

    def _opened(self, row: tuple[object, ...]) -> ThreadMessage:
        """Raises SealError for words sealed with a key this process has not, or moved from
        another row."""
        case_id, tenant_id, seq, at, kind, role, via, internal, sealed, kid = row
        number = int(str(seq))
        plain = opened_value(
            self._keys,
            None if kid is None else str(kid),
            bytes(sealed),  # type: ignore[call-overload]
            _context(str(case_id), number),
            f"message {number} of {case_id}",
        )
        words = json.loads(plain)
        return ThreadMessage(
            case_id=str(case_id),
            tenant_id=str(tenant_id),
            seq=number,
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

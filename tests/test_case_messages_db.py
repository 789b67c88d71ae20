"""The thread's table: each message written once under (case, seq), sealed with the key ring when
one is set (the text never in clear in the database), read a page at a time in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.case_messages import MessageStore, SealedMessage
from adapters.codec import EncryptionCodec
from adapters.database import open_database
from adapters.schema import case_messages
from adapters.settings import Settings
from tests.test_thread import message

KEY, OTHER = b"k" * 32, b"o" * 32


async def test_messages_are_kept_once_sealed_and_paged_in_order(tmp_path: Path, database_url: str) -> None:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    try:
        store = MessageStore(engine, EncryptionCodec(KEY))
        first = message(1, "staff", "li.wei")
        assert await store.write(first) is True
        assert await store.write(first) is False, "a retried activity writes nothing twice"
        for seq in (3, 2):
            await store.write(message(seq, "staff", "li.wei", internal=seq == 3))
        with engine.connect() as connection:
            raw = b"".join(bytes(row.sealed) for row in connection.execute(select(case_messages.c.sealed)))
        assert b"message 1" not in raw and b"li.wei" not in raw, "sealed at rest"
        page, more = await store.page("case-contoso.t", -1, 2, with_internal=True)
        assert [m.seq for m in page] == [1, 2] and more
        assert page[0] == first
        rest, more = await store.page("case-contoso.t", 2, 10, with_internal=True)
        assert [m.seq for m in rest] == [3] and not more
        customer, _ = await store.page("case-contoso.t", -1, 10, with_internal=False)
        assert [m.seq for m in customer] == [1, 2]
        rotated = MessageStore(engine, EncryptionCodec(OTHER, [KEY]))
        assert [m.seq for m in (await rotated.page("case-contoso.t", -1, 10, True))[0]] == [1, 2, 3]
        with pytest.raises(SealedMessage):
            await MessageStore(engine).page("case-contoso.t", -1, 10, True)
        plain = MessageStore(engine)
        await plain.write(message(1, "staff", "li.wei").model_copy(update={"case_id": "case-contoso.u"}))
        [before_the_key], _ = await store.page("case-contoso.u", -1, 10, True)
        assert before_the_key.body == "message 1", "kept before a key was set"
    finally:
        engine.dispose()

"""The thread's table: each message written once under (case, seq), sealed with the key ring when
one is set (the text never in clear in the database, the row naming its key, the words bound to
their case and seq), read a page at a time in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from adapters.case_messages import MessageStore
from adapters.codec import KeyNotConfigured, KeyRing, SealError, key_id
from adapters.database import open_database
from adapters.schema import case_messages
from adapters.settings import Settings
from tests.system.test_sealed_at_rest import raw_database
from tests.unit.test_thread import message

KEY, OTHER = b"k" * 32, b"o" * 32
CASE, ELSEWHERE = "case-contoso.t", "case-fabrikam.u"


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    made = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    yield made
    made.dispose()


async def test_messages_are_kept_once_sealed_and_paged_in_order(engine: Engine) -> None:
    store = MessageStore(engine, KeyRing(KEY))
    first = message(1, "staff", "li.wei")
    assert await store.write(first) is True
    assert await store.write(first) is False, "a retried activity writes nothing twice"
    for seq in (3, 2):
        await store.write(message(seq, "staff", "li.wei", internal=seq == 3))
    raw = raw_database(engine, ("case_messages",))
    assert b"message 1" not in raw and b"li.wei" not in raw, "sealed at rest"
    with engine.connect() as connection:
        assert set(connection.execute(select(case_messages.c.key_id)).scalars()) == {key_id(KEY)}
    page, more = await store.page(CASE, -1, 2, with_internal=True)
    assert [m.seq for m in page] == [1, 2] and more
    assert page[0] == first
    rest, more = await store.page(CASE, 2, 10, with_internal=True)
    assert [m.seq for m in rest] == [3] and not more
    customer, _ = await store.page(CASE, -1, 10, with_internal=False)
    assert [m.seq for m in customer] == [1, 2]


async def test_a_rotated_key_still_opens_and_no_key_is_a_seal_error(engine: Engine) -> None:
    await MessageStore(engine, KeyRing(KEY)).write(message(1, "staff", "li.wei"))
    rotated = MessageStore(engine, KeyRing(OTHER, [KEY]))
    [opened], _ = await rotated.page(CASE, -1, 10, True)
    assert opened.body == "message 1", "a previous key still opens what it sealed"
    await rotated.write(message(2, "staff", "li.wei"))
    with engine.connect() as connection:
        kids = dict(connection.execute(select(case_messages.c.seq, case_messages.c.key_id)).all())
    assert kids == {1: key_id(KEY), 2: key_id(OTHER)}, "each row names the key that sealed it"
    with pytest.raises(KeyNotConfigured):
        await MessageStore(engine, KeyRing(OTHER)).page(CASE, -1, 10, True)
    with pytest.raises(SealError, match="CASEWORK_ENCRYPTION_KEY is not set"):
        await MessageStore(engine, None).page(CASE, -1, 10, True)


async def test_a_message_copied_onto_another_case_or_seq_does_not_open(engine: Engine) -> None:
    store = MessageStore(engine, KeyRing(KEY))
    await store.write(message(1, "staff", "li.wei"))
    await store.write(message(2, "staff", "li.wei"))
    with engine.begin() as connection:  # another tenant's case, the same seq: the words copied over
        [row] = connection.execute(select(case_messages).where(case_messages.c.seq == 1)).mappings()
        connection.execute(
            insert(case_messages).values({**row, "case_id": ELSEWHERE, "tenant_id": "fabrikam"})
        )
    with pytest.raises(SealError):
        await store.page(ELSEWHERE, -1, 10, True)
    with engine.begin() as connection:  # the same case, another seq
        connection.execute(
            update(case_messages)
            .where(case_messages.c.case_id == CASE, case_messages.c.seq == 2)
            .values(sealed=row["sealed"])
        )
    with pytest.raises(SealError):
        await store.page(CASE, 1, 10, True)
    [still], _ = await store.page(CASE, -1, 1, True)
    assert still.body == "message 1", "the row it was copied from still opens"


async def test_messages_kept_without_a_key_are_read_as_they_are(engine: Engine) -> None:
    plain = MessageStore(engine, None)
    await plain.write(message(1, "staff", "li.wei"))
    assert b"message 1" in raw_database(engine, ("case_messages",)), "(as an install with no key left it)"
    with engine.connect() as connection:
        assert connection.execute(select(case_messages.c.key_id)).scalar() is None
    keyed = MessageStore(engine, KeyRing(KEY))
    await keyed.write(message(2, "staff", "li.wei"))
    read, _ = await keyed.page(CASE, -1, 10, True)
    assert [m.body for m in read] == ["message 1", "message 2"], "kept before a key was set: read as it is"
    [before_the_key], _ = await plain.page(CASE, -1, 1, True)
    assert before_the_key.body == "message 1"

"""Held mail (`adapters.mail_quarantine`) at rest, on SQLite and on PostgreSQL (tests/postgres.py):
with the key ring set the raw mail is sealed, bound to its case and mail, and the row names its key;
a previous key still opens it; a mail held before the key was set reads as it is; a sealed mail
copied onto another case's row does not open (SealError). The routing holds a doubtful mail sealed,
releases it onto its case, and leaves a moved one held."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from adapters.codec import KeyNotConfigured, KeyRing, SealError, key_id, new_key
from adapters.database import open_database
from adapters.mail_quarantine import MailQuarantine
from adapters.schema import mail_quarantine
from adapters.settings import Settings
from tests.system.test_inbound_mail import CUSTOMER, DrivenCases, customer_mail, routed
from tests.system.test_sealed_at_rest import raw_database
from tests.unit.test_case_machine import open_case as open_driven_case

KEY, OTHER = b"k" * 32, b"o" * 32
CASE, ELSEWHERE = "case-contoso.q-1", "case-fabrikam.q-2"
MAIL_HASH = "ab" * 32
RAW = b"From: anna.schmidt@contoso.example\r\n\r\nMy VPN key is 7f3a-SECRET\r\n"


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    made = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    yield made
    made.dispose()


def hold(quarantine: MailQuarantine, case_id: str = CASE, message_hash: str = MAIL_HASH) -> int:
    tenant = case_id.split("-")[1].split(".")[0]
    return quarantine.hold(case_id, tenant, message_hash, "a***@contoso.example", "List-Id", len(RAW), RAW)


def test_a_held_mail_is_sealed_at_rest_and_opens_with_current_and_previous_keys(engine: Engine) -> None:
    held = hold(MailQuarantine(engine, KeyRing(KEY)))
    raw = raw_database(engine, ("mail_quarantine",))
    assert b"SECRET" not in raw and b"anna.schmidt" not in raw, "no byte of the mail in clear"
    with engine.connect() as connection:
        assert connection.execute(select(mail_quarantine.c.key_id)).scalar() == key_id(KEY)
    assert MailQuarantine(engine, KeyRing(KEY)).content(held) == RAW
    assert MailQuarantine(engine, KeyRing(OTHER, [KEY])).content(held) == RAW, "rotated: still opens"
    with pytest.raises(KeyNotConfigured):
        MailQuarantine(engine, KeyRing(OTHER)).content(held)
    with pytest.raises(SealError, match="CASEWORK_ENCRYPTION_KEY is not set"):
        MailQuarantine(engine, None).content(held)
    assert [h.quarantine_id for h in MailQuarantine(engine, None).listed()] == [held], "listed without a key"


def test_a_sealed_mail_copied_onto_another_case_does_not_open(engine: Engine) -> None:
    quarantine = MailQuarantine(engine, KeyRing(KEY))
    here = hold(quarantine)
    there = hold(quarantine, ELSEWHERE, "cd" * 32)
    with engine.begin() as connection:
        [sealed] = connection.execute(
            select(mail_quarantine.c.content).where(mail_quarantine.c.quarantine_id == here)
        ).scalars()
        connection.execute(
            update(mail_quarantine).where(mail_quarantine.c.quarantine_id == there).values(content=sealed)
        )
    with pytest.raises(SealError):
        quarantine.content(there)
    with engine.begin() as connection:  # the whole row moved to another case
        connection.execute(
            update(mail_quarantine).where(mail_quarantine.c.quarantine_id == here).values(case_id="case-x.y")
        )
    with pytest.raises(SealError):
        quarantine.content(here)


def test_a_mail_held_without_a_key_is_read_as_it_is(engine: Engine) -> None:
    held = hold(MailQuarantine(engine, None))
    assert b"SECRET" in raw_database(engine, ("mail_quarantine",)), "(as an install with no key left it)"
    with engine.connect() as connection:
        assert connection.execute(select(mail_quarantine.c.key_id)).scalar() is None
    assert MailQuarantine(engine, KeyRing(KEY)).content(held) == RAW
    assert MailQuarantine(engine, None).content(held) == RAW


async def test_the_routing_holds_a_doubtful_mail_sealed_and_releases_it_but_not_a_moved_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_ENCRYPTION_KEY", new_key())
    monkeypatch.delenv("CASEWORK_ENCRYPTION_PREVIOUS_KEYS", raising=False)
    driver = open_driven_case("unit-held")
    with routed(tmp_path, DrivenCases(driver), driver.view.case_id) as it:
        mail = customer_mail("Sent through our support group, SECRET-7f3a.")
        listed = mail.replace(b"From:", b"List-Id: <support.contoso.example>\nFrom:", 1)
        answer = await it.routing.message(CUSTOMER, it.address, listed)
        assert answer.outcome == "held", answer.line
        assert b"SECRET-7f3a" not in raw_database(it.engine, ("mail_quarantine",)), "held sealed"
        quarantine = MailQuarantine(it.engine, None)
        [first] = quarantine.listed()
        assert first.case_id == it.case_id

        other = customer_mail("Another from the group.")
        listed_other = other.replace(b"From:", b"List-Id: <support.contoso.example>\nFrom:", 1)
        assert (await it.routing.message(CUSTOMER, it.address, listed_other)).outcome == "held"
        second = next(h for h in quarantine.listed() if h.quarantine_id != first.quarantine_id)
        with it.engine.begin() as connection:  # the first mail's sealed bytes copied onto the second
            [sealed] = connection.execute(
                select(mail_quarantine.c.content).where(
                    mail_quarantine.c.quarantine_id == first.quarantine_id
                )
            ).scalars()
            connection.execute(
                update(mail_quarantine)
                .where(mail_quarantine.c.quarantine_id == second.quarantine_id)
                .values(content=sealed)
            )
        with pytest.raises(SealError):
            await it.routing.release(second.quarantine_id)
        kept = quarantine.get(second.quarantine_id)
        assert kept is not None and kept.released_at is None, "not opened: still held"

        released = await it.routing.release(first.quarantine_id)
        assert released.code == 250, released.line
        [reply] = it.cases.replies
        assert "SECRET-7f3a" in reply.body

"""Closed cases' records (internal notes, the thread) and attachments are sealed at rest with the
encryption key ring (the codec's CASEWORK_ENCRYPTION_KEY and _PREVIOUS_KEYS), on SQLite and on a
real PostgreSQL server (tests/postgres.py).

With the key set, no byte of the database holds a note's text or an attachment's name or bytes;
the app reads them whole; rows written in clear before the key was set stay readable; a key rotated
into the previous keys still opens what it sealed. Reports equal those over the same cases in
clear, computed without any key: they read only the columns that hold no personal data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, text, update
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.attachment_store import AttachmentStore
from adapters.closed_cases import export_closed_cases, read_closed_case, store_closed_case
from adapters.codec import KeyNotConfigured, KeyRing, key_id, new_key, parse_key
from adapters.database import open_database
from adapters.reports_store import closed_cases_in
from adapters.schema import attachments, closed_cases
from adapters.settings import Settings
from bootstrap.cli import main
from support.case.view import CaseView, NoteEntry
from support.reporting.closed_case import CaseArchive, closed_case_row
from support.reporting.reports import ReportWindow, sla_report
from tests.system.test_closed_cases import OPENED, answered_case

NOTE = "Customer's VPN key is 7f3a-SECRET-NOTE; do not share"
KEY_1, KEY_2 = parse_key(new_key(), "k1"), parse_key(new_key(), "k2")
CASE = "case-contoso.sealed-1"
MAIL = "ab" * 32
FILENAME = "passport-of-anna-schmidt.pdf"
CONTENT = b"%PDF-1.4 ANNA-SCHMIDT-PASSPORT-SCAN " * 30
WINDOW = ReportWindow(since=OPENED - timedelta(days=1), until=OPENED + timedelta(days=30))


def engine_at(tmp_path: Path, database_url: str, name: str = "var") -> Engine:
    url = database_url.replace("/var/", f"/{name}/") if database_url.startswith("sqlite") else database_url
    return open_database(Settings(var_dir=tmp_path / name, database_url=url))


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    made = engine_at(tmp_path, database_url)
    yield made
    made.dispose()


def with_note(view: CaseView, case_id: str) -> CaseView:
    note = NoteEntry(at=OPENED + timedelta(minutes=50), engineer="li.wei", note=NOTE)
    return view.model_copy(update={"case_id": case_id, "notes": [note]}, deep=True)


def raw_database(engine: Engine, tables: tuple[str, ...] = ("closed_cases", "attachments")) -> bytes:
    """Every byte the database keeps: the SQLite file (and its journal), or on PostgreSQL every
    column of every row of `tables` as the server returns it."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    found = b""
    with engine.connect() as connection:
        for table in tables:
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                found += b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
    return found


async def test_a_closed_case_record_is_sealed_and_read_whole(engine: Engine) -> None:
    keys = KeyRing(KEY_1)
    view = with_note(answered_case(), CASE)
    assert NOTE in view.model_dump_json()
    await ActivityEnvironment().run(ArchiveActivities(engine, keys).archive_case, CaseArchive(**dict(view)))

    raw = raw_database(engine)
    assert NOTE.encode() not in raw and b"SECRET-NOTE" not in raw, "no note text in the database"
    assert b"Exchange Online is down" not in raw, "nor the title (the whole record is sealed)"
    with engine.connect() as connection:
        row = connection.execute(select(closed_cases).where(closed_cases.c.case_id == CASE)).one()
    assert row.key_id == key_id(KEY_1) and not row.record.startswith("{")
    assert (row.tenant_id, row.final_severity, row.first_response_met) == ("contoso", "C", True), (
        "the columns reports count stay in clear"
    )

    assert read_closed_case(engine, CASE, keys) == view, "read through the app: whole"
    with pytest.raises(ValueError, match="CASEWORK_ENCRYPTION_KEY is not set"):
        read_closed_case(engine, CASE)
    rotated = KeyRing(KEY_2, previous=[KEY_1])
    assert read_closed_case(engine, CASE, rotated) == view, "a previous key still opens it"
    with pytest.raises(KeyNotConfigured):
        read_closed_case(engine, CASE, KeyRing(KEY_2))

    with engine.begin() as connection:  # a sealed record moved onto another case's row does not open
        connection.execute(
            update(closed_cases).where(closed_cases.c.case_id == CASE).values(case_id="case-contoso.other")
        )
    with pytest.raises(ValueError):
        read_closed_case(engine, "case-contoso.other", keys)


def test_rows_written_in_clear_stay_readable_and_are_sealed_when_written_again(engine: Engine) -> None:
    keys = KeyRing(KEY_1)
    view = with_note(answered_case(), CASE)
    store_closed_case(engine, closed_case_row(view, OPENED + timedelta(days=10)))  # before the key
    assert NOTE.encode() in raw_database(engine), "(the row as an older release or no key left it)"
    assert read_closed_case(engine, CASE, keys) == view, "a row in clear is read as it is"

    store_closed_case(engine, closed_case_row(view, OPENED + timedelta(days=11)), keys)  # archived again
    assert read_closed_case(engine, CASE, keys) == view
    with engine.connect() as connection:
        assert connection.execute(select(closed_cases.c.key_id)).scalar() == key_id(KEY_1)


def test_the_export_opens_sealed_and_clear_records_alike(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sealed, clear = with_note(answered_case(), CASE), with_note(answered_case(), "case-contoso.clear-1")
    store_closed_case(engine, closed_case_row(sealed, OPENED), KeyRing(KEY_1))
    store_closed_case(engine, closed_case_row(clear, OPENED))
    export_closed_cases(engine, tmp_path / "out", keys=KeyRing(KEY_1))
    for view in (sealed, clear):
        exported = json.loads((tmp_path / "out" / f"{view.case_id}.json").read_text())
        assert CaseView.model_validate(exported) == view

    # `starter.py archive export` takes the keys from the environment, as the worker does
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASEWORK_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("CASEWORK_ENCRYPTION_KEY", raising=False)
    assert main(["archive", "export", "-o", str(tmp_path / "nokey")]) == 2
    said = capsys.readouterr().err.strip()
    assert "CASEWORK_ENCRYPTION_KEY is not set" in said and "\n" not in said, "one line, no traceback"
    monkeypatch.setenv("CASEWORK_ENCRYPTION_KEY", new_key())  # rotated: KEY_1 is a previous key now
    monkeypatch.setenv("CASEWORK_ENCRYPTION_PREVIOUS_KEYS", base64.b64encode(KEY_1).decode())
    assert main(["archive", "export", "-o", str(tmp_path / "cli")]) == 0
    assert NOTE in (tmp_path / "cli" / f"{CASE}.json").read_text()


def test_reports_over_sealed_rows_equal_those_in_clear_and_need_no_key(engine: Engine) -> None:
    """The same cases archived in clear, then sealed: the report is the same, computed without any
    key (the reports' store has none to open a record with), including the severity whose clock
    decided the first response (answered at A, lowered later)."""
    views = [with_note(answered_case(), f"case-contoso.r{i}") for i in range(3)]
    views.append(with_note(answered_case(), "case-fabrikam.r9").model_copy(update={"tenant_id": "fabrikam"}))
    tenants = ["contoso", "fabrikam"]

    def report() -> dict[str, object]:
        rows = closed_cases_in(engine, WINDOW, tenants)
        assert [r.sla_severity for r in rows] == ["A"] * len(views), "answered at A, lowered later"
        made = sla_report(WINDOW, rows, [], datetime(2026, 12, 31, tzinfo=UTC), tenants)
        return made.model_dump(mode="json", exclude={"generated_at"})

    def archive(keys: KeyRing | None) -> None:
        with engine.begin() as connection:
            connection.execute(delete(closed_cases))
        for view in views:
            store_closed_case(engine, closed_case_row(view, OPENED + timedelta(days=10)), keys)

    archive(None)
    in_clear = report()
    # rows archived before `first_response_severity` existed: their record (in clear) says it
    with engine.begin() as connection:
        connection.execute(update(closed_cases).values(first_response_severity=None))
    assert report() == in_clear
    archive(KeyRing(KEY_1))
    with engine.connect() as connection:
        assert set(connection.execute(select(closed_cases.c.key_id)).scalars()) == {key_id(KEY_1)}
    assert report() == in_clear
    assert in_clear["cases"] == 4 and in_clear["met"] == 4


def test_attachments_are_sealed_and_read_whole(engine: Engine) -> None:
    keys = KeyRing(KEY_1)
    store = AttachmentStore(engine, keys)
    [ref] = store.store(CASE, "contoso", MAIL, [(FILENAME, "application/pdf", CONTENT)])
    assert (ref.filename, ref.size) == (FILENAME, len(CONTENT)), "the case lists the name and size"

    raw = raw_database(engine)
    assert b"ANNA-SCHMIDT" not in raw and b"anna-schmidt" not in raw, "no bytes nor name in clear"
    found = store.get(CASE, ref.attachment_id)
    assert found is not None and (found.filename, found.content) == (FILENAME, CONTENT)
    assert found.content_type == "application/pdf"
    assert AttachmentStore(engine, KeyRing(KEY_2, [KEY_1])).get(CASE, ref.attachment_id) == found
    with pytest.raises(ValueError, match="not set"):
        AttachmentStore(engine).get(CASE, ref.attachment_id)

    # stored before the key was set: read as it is by a store that has the key
    [old] = AttachmentStore(engine).store(CASE, "contoso", "cd" * 32, [("old.txt", "text/plain", b"old")])
    was = store.get(CASE, old.attachment_id)
    assert was is not None and (was.filename, was.content) == ("old.txt", b"old")
    with engine.connect() as connection:
        kids = dict(connection.execute(select(attachments.c.attachment_id, attachments.c.key_id)).all())
    assert kids == {ref.attachment_id: key_id(KEY_1), old.attachment_id: None}


def test_the_longest_attachment_name_fits_sealed(engine: Engine) -> None:
    """A 200-character name in Chinese is 600 bytes of UTF-8: sealed and in base64, 840 characters."""
    name = "报" * 196 + ".pdf"
    store = AttachmentStore(engine, KeyRing(KEY_1))
    [ref] = store.store(CASE, "contoso", MAIL, [(name, "application/pdf", b"x")])
    found = store.get(CASE, ref.attachment_id)
    assert found is not None and found.filename == name

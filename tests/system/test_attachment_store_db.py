"""Received replies and their attachments on SQLite and PostgreSQL (tests/postgres.py): one mail is
one message, attachments are kept once and found only under their own case."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from adapters.attachment_store import AttachmentStore, attachment_id
from adapters.database import open_database
from adapters.schema import attachments
from adapters.settings import Settings

CASE = f"case-{'t' * 63}.{'r' * 64}"  # the longest form a case id takes
MAIL = "ab" * 32


def test_replies_and_attachments_are_kept_once(tmp_path: Path, database_url: str) -> None:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    store = AttachmentStore(engine)
    try:
        assert not store.received(CASE, MAIL)
        store.mark_received(CASE, MAIL)
        store.mark_received(CASE, MAIL)  # the same mail again: no error, one row
        assert store.received(CASE, MAIL) and not store.received("case-other.r-1", MAIL)

        content = bytes(range(256)) * 40  # binary, not text
        files = [("trace.pcap", "application/vnd.tcpdump.pcap", content), ("a.txt", "text/plain", b"hi")]
        refs = store.store(CASE, "t" * 63, MAIL, files)
        again = store.store(CASE, "t" * 63, MAIL, files)
        assert refs == again and [r.size for r in refs] == [len(content), 2]
        assert refs[0].attachment_id == attachment_id(CASE, MAIL, 1, content)
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(attachments)).scalar() == 2

        found = store.get(CASE, refs[0].attachment_id)
        assert found is not None and found.content == content and found.filename == "trace.pcap"
        assert found.tenant_id == "t" * 63
        assert store.get("case-other.r-1", refs[0].attachment_id) is None, "only under its own case"
        assert store.get(CASE, "0" * 64) is None

        store.store(CASE, "t" * 63, "cd" * 32, [("refused.txt", "text/plain", b"no")])
        store.discard(CASE, "cd" * 32)  # the case refused that mail
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(attachments)).scalar() == 2
    finally:
        engine.dispose()

"""Console sign-outs on SQLite and PostgreSQL (tests/postgres.py): a signed-out session is refused
through any engine on the database until it would have expired, and expired rows are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from adapters.console_sessions import SignedOutSessions
from adapters.database import open_database
from adapters.schema import console_sessions_revoked
from adapters.settings import Settings


def test_sign_outs_are_shared_kept_until_expiry_and_pruned(tmp_path: Path, database_url: str) -> None:
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    engines = [open_database(settings), open_database(settings)]  # two API processes
    here, there = (SignedOutSessions(engine) for engine in engines)
    now = datetime.now(UTC)
    try:
        assert not here.signed_out("a" * 64)
        here.sign_out("a" * 64, now + timedelta(hours=8))
        here.sign_out("a" * 64, now + timedelta(hours=8))  # twice: no error, one row
        assert here.signed_out("a" * 64) and there.signed_out("a" * 64)
        assert not there.signed_out("b" * 64)

        here.sign_out("c" * 64, now - timedelta(seconds=1))  # expired already: nothing to keep
        with engines[0].begin() as connection:  # a row whose session expired since it was signed out
            connection.execute(
                console_sessions_revoked.insert().values(
                    session_id="d" * 64, expires_at=now - timedelta(hours=1)
                )
            )
        there.sign_out("e" * 64, now + timedelta(hours=1))
        with engines[1].connect() as connection:
            kept = connection.execute(
                select(console_sessions_revoked.c.session_id, console_sessions_revoked.c.expires_at)
            ).all()
        assert sorted(row.session_id for row in kept) == ["a" * 64, "e" * 64], "expired rows pruned"
        assert all(row.expires_at.utcoffset() == timedelta(0) for row in kept)
    finally:
        for engine in engines:
            engine.dispose()

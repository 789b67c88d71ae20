"""The directory database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

from adapters.directory_store import import_directory
from adapters.private_dir import private_dir
from adapters.schema import migrate
from adapters.settings import Settings
from support.identity.directory import parse_directory_file


def database_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{settings.var_dir / 'casework.db'}"


def open_database(settings: Settings) -> Engine:
    """An engine with the schema migrated to the latest version."""
    url = database_url(settings)
    if url.startswith("sqlite"):
        private_dir(settings.var_dir)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: object, _: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit (a ledger
            # write) costs no fsync. A crashed process loses nothing; a power cut can lose the
            # last commits, never the database's consistency (https://sqlite.org/pragma.html).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    else:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
    migrate(engine)
    return engine


def import_directory_file(engine: Engine, path: Path) -> dict[str, int]:
    """Import a directory file (idempotent) into this database, e.g. the demo directory for `make run`."""
    return import_directory(engine, parse_directory_file(path.read_text(encoding="utf-8"), str(path)))


def seed_directory(settings: Settings, path: Path) -> dict[str, int]:
    """Import a directory file (idempotent) through an engine of its own (tests and local stacks)."""
    engine = open_database(settings)
    try:
        return import_directory_file(engine, path)
    finally:
        engine.dispose()

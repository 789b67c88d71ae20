"""The directory database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event

from activities.schema import migrate
from service.settings import Settings


def database_url(settings: Settings) -> str:
    return settings.database_url or f"sqlite:///{settings.var_dir / 'casework.db'}"


def open_database(settings: Settings) -> Engine:
    """An engine with the schema migrated to the latest version."""
    url = database_url(settings)
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: object, _: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
    else:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
    migrate(engine)
    return engine

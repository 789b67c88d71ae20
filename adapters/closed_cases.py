"""The closed_cases table: a case's final record outside Temporal, so reports outlive its retention.

Each row holds the columns reports count (support.closed_case derives them from the final view) and
the whole final view as JSON. `store_closed_case` is one statement in one transaction, keyed on the
case id, so an archive activity retried, or a case archived again, leaves one row (the latest final
view). JSON files are an export of the table (`starter.py archive export`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, Executable, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.schema import closed_cases
from support.case_view import CaseView
from support.closed_case import ClosedCase


def store_closed_case(engine: Engine, row: ClosedCase) -> None:
    """Insert the case's row, or replace the one it has (one transaction, one row per case)."""
    values = row.model_dump()
    key = [closed_cases.c.case_id]
    if engine.dialect.name == "postgresql":
        on_postgresql = postgresql.insert(closed_cases).values(values)
        excluded = on_postgresql.excluded
        statement: Executable = on_postgresql.on_conflict_do_update(
            index_elements=key, set_={name: excluded[name] for name in values if name != "case_id"}
        )
    elif engine.dialect.name == "sqlite":
        on_sqlite = sqlite.insert(closed_cases).values(values)
        excluded = on_sqlite.excluded
        statement = on_sqlite.on_conflict_do_update(
            index_elements=key, set_={name: excluded[name] for name in values if name != "case_id"}
        )
    else:
        raise RuntimeError(f"closed cases are kept on SQLite or PostgreSQL, not {engine.dialect.name}")
    with engine.begin() as connection:
        connection.execute(statement)


def read_closed_case(engine: Engine, case_id: str) -> CaseView | None:
    """The final view a closed case was archived with, or None."""
    with engine.connect() as connection:
        record = connection.execute(
            select(closed_cases.c.record).where(closed_cases.c.case_id == case_id)
        ).scalar()
    return CaseView.model_validate_json(record) if record is not None else None


def ended_between(since: datetime | None, until: datetime | None, tenant: str | None) -> Select[str, str]:
    """Closed cases that ended in [since, until): closed then, or refused then (a refused case never
    closed: its creation is when it ended), of one tenant or all, oldest first."""
    ended = func.coalesce(closed_cases.c.closed_at, closed_cases.c.created_at)
    query = select(closed_cases.c.case_id, closed_cases.c.record).order_by(ended, closed_cases.c.case_id)
    if since is not None:
        query = query.where(ended >= since)
    if until is not None:
        query = query.where(ended < until)
    if tenant is not None:
        query = query.where(closed_cases.c.tenant_id == tenant)
    return query


def closed_case_records(
    engine: Engine, since: datetime | None = None, until: datetime | None = None, tenant: str | None = None
) -> Iterator[tuple[str, str]]:
    """(case id, final view as JSON) of the closed cases that ended in [since, until)."""
    with engine.connect() as connection:
        yield from connection.execute(ended_between(since, until, tenant))


def export_closed_cases(
    engine: Engine,
    directory: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant: str | None = None,
) -> list[Path]:
    """One `<case-id>.json` per closed case (the final view, indented) in `directory`, each written
    atomically; exporting again overwrites the same files with the same content."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for case_id, record in closed_case_records(engine, since, until, tenant):
        if "/" in case_id or "\\" in case_id or case_id.startswith("."):
            raise ValueError(f"{case_id!r} cannot name a file")
        target = directory / f"{case_id}.json"
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(json.loads(record), indent=2, ensure_ascii=False) + "\n")
        os.replace(temp, target)
        written.append(target)
    return written

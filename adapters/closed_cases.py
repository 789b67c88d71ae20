"""The closed_cases table: a case's final record outside Temporal, so reports outlive its retention.

Each row holds the columns reports count (support.reporting.closed_case derives them from the final view) and
the whole final view as JSON. `store_closed_case` is one statement in one transaction, keyed on the
case id, so an archive activity retried, or a case archived again, leaves one row (the latest final
view). JSON files are an export of the table (`starter.py archive export`).

The record holds personal data (the request, the thread, internal notes): with a key ring (the
codec's keys, CASEWORK_ENCRYPTION_KEY) it is sealed and the row names its key (`key_id`); the
columns reports count hold no personal data and stay in clear. A row without a key id was written
in clear and is read as it is; one sealed with a previous key opens while that key is among
CASEWORK_ENCRYPTION_PREVIOUS_KEYS.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, Executable, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.codec import KeyRing, opened_text, sealed_text
from adapters.schema import closed_cases
from support.case.inputs import ArchivedInputs
from support.case.view import CaseView
from support.reporting.closed_case import ClosedCase

INPUTS = "inputs"


def _context(case_id: str, column: str = "record") -> bytes:
    """What a sealed value is bound to: this table's column (`record`, `inputs`) of this case."""
    return f"closed_cases.{column}".encode() + b"\x00" + case_id.encode()


def _sealed(row: ClosedCase, keys: KeyRing | None) -> dict[str, object]:
    record, kid = sealed_text(keys, row.record, _context(row.case_id))
    values = row.model_dump() | {"record": record, "key_id": kid, "inputs_key_id": None}
    if row.reopened_at is not None:  # a JSON column: instants as ISO 8601 text
        values["reopened_at"] = [at.isoformat() for at in row.reopened_at]
    if row.inputs is not None:
        inputs, inputs_kid = sealed_text(keys, row.inputs, _context(row.case_id, INPUTS))
        values |= {"inputs": inputs, "inputs_key_id": inputs_kid}
    return values


def _opened(case_id: str, record: str, kid: str | None, keys: KeyRing | None, column: str = "record") -> str:
    """The record (or inputs) as JSON: in clear as stored, or opened with the key the row names."""
    return opened_text(keys, kid, record, _context(case_id, column), f"the {column} of {case_id}")


def closed_case_inputs(
    engine: Engine, case_ids: Sequence[str], keys: KeyRing | None = None
) -> dict[str, ArchivedInputs]:
    """The recorded inputs of these closed cases (those archived with them), opened."""
    found: dict[str, ArchivedInputs] = {}
    c = closed_cases.c
    with engine.connect() as connection:
        for start in range(0, len(case_ids), 500):
            chunk = list(case_ids[start : start + 500])
            query = select(c.case_id, c.inputs, c.inputs_key_id).where(
                c.case_id.in_(chunk), c.inputs.is_not(None)
            )
            for case_id, inputs, kid in connection.execute(query):
                text = _opened(case_id, inputs, kid, keys, INPUTS)
                found[case_id] = ArchivedInputs.model_validate_json(text)
    return found


def store_closed_case(engine: Engine, row: ClosedCase, keys: KeyRing | None = None) -> None:
    """Insert the case's row, or replace the one it has (one transaction, one row per case); the
    record sealed with `keys` when given."""
    values = _sealed(row, keys)
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


def read_closed_case(engine: Engine, case_id: str, keys: KeyRing | None = None) -> CaseView | None:
    """The final view a closed case was archived with, or None."""
    with engine.connect() as connection:
        found = connection.execute(
            select(closed_cases.c.record, closed_cases.c.key_id).where(closed_cases.c.case_id == case_id)
        ).first()
    if found is None:
        return None
    return CaseView.model_validate_json(_opened(case_id, found.record, found.key_id, keys))


def ended_between(
    since: datetime | None, until: datetime | None, tenant: str | None
) -> Select[str, str, str | None]:
    """Closed cases that ended in [since, until): closed then, or refused then (a refused case never
    closed: its creation is when it ended), of one tenant or all, oldest first."""
    ended = func.coalesce(closed_cases.c.closed_at, closed_cases.c.created_at)
    query = select(closed_cases.c.case_id, closed_cases.c.record, closed_cases.c.key_id).order_by(
        ended, closed_cases.c.case_id
    )
    if since is not None:
        query = query.where(ended >= since)
    if until is not None:
        query = query.where(ended < until)
    if tenant is not None:
        query = query.where(closed_cases.c.tenant_id == tenant)
    return query


def closed_case_records(
    engine: Engine,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant: str | None = None,
    keys: KeyRing | None = None,
) -> Iterator[tuple[str, str]]:
    """(case id, final view as JSON) of the closed cases that ended in [since, until)."""
    with engine.connect() as connection:
        for case_id, record, kid in connection.execute(ended_between(since, until, tenant)):
            yield case_id, _opened(case_id, record, kid, keys)


def export_closed_cases(
    engine: Engine,
    directory: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant: str | None = None,
    keys: KeyRing | None = None,
) -> list[Path]:
    """One `<case-id>.json` per closed case (the final view, indented) in `directory`, each written
    atomically; exporting again overwrites the same files with the same content."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for case_id, record in closed_case_records(engine, since, until, tenant, keys):
        if "/" in case_id or "\\" in case_id or case_id.startswith("."):
            raise ValueError(f"{case_id!r} cannot name a file")
        target = directory / f"{case_id}.json"
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(json.loads(record), indent=2, ensure_ascii=False) + "\n")
        os.replace(temp, target)
        written.append(target)
    return written

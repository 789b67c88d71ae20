"""What reports read from the database: the closed cases of a window and a tenant scope, and the
running ones from the console's projection (`console_cases`).

The counting is `support.reporting.reports` (pure); `application/reports.py` puts the two together for the
API,
the CLI and the console. Running cases are read from the projection, one indexed query, rather than
by asking each case for its view (one Temporal query per case: seconds at 5,000 open cases); the
row carries what the count needs (first response due, given, met and its business time; when each
reopen happened), kept by every opening, action and read (adapters.console_cases).

Reports read the columns that hold no personal data, never a sealed `record`: the record is read
only for a row archived before `first_response_severity` existed (revision 0010), which is in clear.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Engine, String, and_, case, or_, select, type_coerce

from adapters.schema import closed_cases, console_cases
from support.reporting.reports import ClosedRow, ReportWindow, RunningRow


def closed_cases_in(engine: Engine, window: ReportWindow, tenants: Sequence[str] | None) -> list[ClosedRow]:
    """Closed cases opened in the window, those that never opened created in it (refused), and
    those opened before it that were reopened and archived after its start (a reopen of theirs
    may have happened in it: the report counts only those)."""
    if tenants is not None and not tenants:
        return []
    c = closed_cases.c
    legacy = and_(c.first_response_severity.is_(None), c.first_response_at.is_not(None), c.key_id.is_(None))
    counted = [
        column for column in closed_cases.c if column.name not in ("record", "inputs", "inputs_key_id")
    ]
    query = select(*counted, case((legacy, c.record), else_=None).label("record")).where(
        or_(
            and_(c.opened_at >= window.since, c.opened_at < window.until),
            and_(c.opened_at.is_(None), c.created_at >= window.since, c.created_at < window.until),
            and_(
                c.opened_at < window.since,
                c.reopens > 0,
                c.reopened_at.is_not(None),
                c.archived_at >= window.since,
            ),
        )
    )
    if tenants is not None:
        query = query.where(c.tenant_id.in_(list(tenants)))
    with engine.connect() as connection:
        return [ClosedRow.from_row(row._mapping) for row in connection.execute(query)]


def running_cases_in(engine: Engine, window: ReportWindow, tenants: Sequence[str] | None) -> list[RunningRow]:
    """Running cases (a projected row with no closed record) opened in the window, and those opened
    before it that were reopened since its start. A case that never opened has no row (the report
    lists those from visibility)."""
    if tenants is not None and not tenants:
        return []
    c = console_cases.c
    ended = select(closed_cases.c.case_id).where(closed_cases.c.case_id == c.case_id).exists()
    query = select(
        c.case_id,
        c.tenant_id,
        c.category,
        c.severity,
        c.status,
        _raw(c.opened_at),
        _raw(c.first_response_due),
        _raw(c.first_response_at),
        c.first_response_met,
        c.first_response_business_s,
        c.breached,
        case((c.last_reopened_at.is_not(None), c.reopened_at), else_=None),  # no JSON to parse: none
    ).where(
        ~ended,
        or_(
            and_(c.opened_at >= window.since, c.opened_at < window.until),
            and_(c.opened_at < window.since, c.last_reopened_at >= window.since),
        ),
    )
    if tenants is not None:
        query = query.where(c.tenant_id.in_(list(tenants)))
    # Rows built without validation (see `RunningRow`), fetched a few hundred at a time.
    found = []
    with engine.connect() as connection:
        for (
            case_id,
            tenant,
            category,
            severity,
            status,
            opened,
            due,
            answered,
            met,
            business,
            breached,
            reopened,
        ) in _chunked(connection.execute(query)):
            started = _instant(opened)
            found.append(
                RunningRow(
                    case_id,
                    tenant,
                    category,
                    severity,
                    status,
                    started,
                    None if due is None else _instant(due),
                    bool(breached),
                    met,
                    tuple(map(datetime.fromisoformat, reopened)) if reopened else (),
                    business,
                    None if answered is None else (_instant(answered) - started).total_seconds(),
                )
            )
    return found


def _chunked(result: CursorResult[Any]) -> Iterator[Sequence[Any]]:
    """The rows a few hundred at a time (one fetch each, not one per row), none kept after use."""
    for rows in result.partitions(500):
        yield from rows


def _raw(column: ColumnElement[datetime]) -> ColumnElement[Any]:
    """An instant column read as the driver gives it, without `UtcDateTime`'s three calls per value
    (a report reads thousands): `_instant` makes it aware."""
    return type_coerce(column, String)


def _instant(value: datetime | str) -> datetime:
    """A raw instant made aware and UTC as `UtcDateTime` reads it: SQLite keeps UTC text with no
    zone (given one here as text: `datetime.replace` costs several times the parse), PostgreSQL
    answers an aware time in its session's zone."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return value if value.tzinfo is UTC else value.astimezone(UTC)

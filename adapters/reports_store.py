"""What reports read from the database: the closed cases of a window and a tenant scope, and the
running ones from the console's projection (`console_cases`).

The counting is `support.reports` (pure); `intake/reports.py` puts the two together for the API,
the CLI and the console. Running cases are read from the projection, one indexed query, rather than
by asking each case for its view (one Temporal query per case: seconds at 5,000 open cases); the
row carries what the count needs (first response due, given, met and its business time; when each
reopen happened), kept by every opening, action and read (adapters.console_cases).

Reports read the columns that hold no personal data, never a sealed `record`: the record is read
only for a row archived before `first_response_severity` existed (revision 0010), which is in clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, and_, case, or_, select

from adapters.schema import closed_cases, console_cases
from support.reports import ClosedRow, OpenCase, ReportWindow


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


def running_cases_in(engine: Engine, window: ReportWindow, tenants: Sequence[str] | None) -> list[OpenCase]:
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
        c.opened_at,
        c.first_response_due,
        c.first_response_at,
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
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # Built without validation: the columns are typed (aware instants, checked enums' values), and
    # a report may read thousands of rows.
    found = []
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
    ) in rows:
        found.append(
            OpenCase.trusted(
                case_id=case_id,
                tenant_id=tenant,
                category=category,
                severity=severity,
                status=status,
                started_at=opened,
                first_response_due=due,
                sla_breached=bool(breached),
                first_response_met=met,
                reopened_at=[datetime.fromisoformat(at) for at in reopened] if reopened else [],
                first_response_business_s=business,
                first_response_wall_s=(answered - opened).total_seconds() if answered is not None else None,
            )
        )
    return found

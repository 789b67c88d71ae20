"""What reports read from the database: the closed cases of a window and a tenant scope.

The counting is `support.reports` (pure); running cases come from Temporal visibility
(`intake/reports.py`, which puts the two together for the API and the CLI).

Reports read the columns that hold no personal data, never a sealed `record`: the record is read
only for a row archived before `first_response_severity` existed (revision 0010), which is in clear.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, and_, case, or_, select

from adapters.schema import closed_cases
from support.reports import ClosedRow, ReportWindow


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

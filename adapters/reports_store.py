"""What reports read from the database: the closed cases of a window and a tenant scope.

The counting is `support.reports` (pure); running cases come from Temporal visibility
(`intake/reports.py`, which puts the two together for the API and the CLI).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, and_, or_, select

from adapters.schema import closed_cases
from support.reports import ClosedRow, ReportWindow


def closed_cases_in(engine: Engine, window: ReportWindow, tenants: Sequence[str] | None) -> list[ClosedRow]:
    """Closed cases opened in the window, and those that never opened created in it (refused)."""
    if tenants is not None and not tenants:
        return []
    c = closed_cases.c
    query = select(closed_cases).where(
        or_(
            and_(c.opened_at >= window.since, c.opened_at < window.until),
            and_(c.opened_at.is_(None), c.created_at >= window.since, c.created_at < window.until),
        )
    )
    if tenants is not None:
        query = query.where(c.tenant_id.in_(list(tenants)))
    with engine.connect() as connection:
        return [ClosedRow.from_row(row._mapping) for row in connection.execute(query)]

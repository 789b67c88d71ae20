"""The closed cases a customer's portal lists, from the `closed_cases` table: the columns a list
shows (in clear: no personal data), newest first, of the tenants a key acts for. The list outlives
Temporal's retention, as the records do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from adapters.schema import closed_cases


@dataclass(frozen=True)
class ClosedRow:
    case_id: str
    status: str
    category: str
    created_at: datetime
    closed_at: datetime | None


def closed_rows(engine: Engine, tenants: Sequence[str] | None, limit: int) -> list[ClosedRow]:
    """The newest `limit` closed cases of `tenants` (None: of every tenant)."""
    c = closed_cases.c
    query = select(c.case_id, c.status, c.category, c.created_at, c.closed_at).order_by(
        c.closed_at.desc(), c.case_id
    )
    if tenants is not None:
        query = query.where(c.tenant_id.in_(list(tenants)))
    with engine.connect() as connection:
        return [ClosedRow(*row) for row in connection.execute(query.limit(limit))]

"""The delivery ledger: which notification ids went out on which channel (exactly once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.schema import deliveries


@dataclass(frozen=True)
class LedgerEntry:
    """One outcome of a delivery on a channel: "sent", or "failed" with why."""

    notification_id: str
    case_id: str
    event: str
    channel: str
    status: str
    detail: str
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class DeliveryLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def delivered(self, notification_id: str) -> str | None:
        """The channel this notification was delivered on, if it was."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(deliveries.c.channel).where(
                    and_(deliveries.c.notification_id == notification_id, deliveries.c.status == "sent")
                )
            ).first()
        return row[0] if row else None

    def record(
        self, notification_id: str, case_id: str, event: str, channel: str, status: str, detail: str
    ) -> None:
        """One row per (notification, channel), written in one atomic statement, so workers that
        record the same delivery at once (several workers on one database) never collide; a row
        that says "sent" stays so (a late failure report of another attempt cannot undo it)."""
        self.record_all([LedgerEntry(notification_id, case_id, event, channel, status, detail)])

    def record_all(self, entries: Sequence[LedgerEntry]) -> None:
        """Record entries, in order, as `record` does each, in one transaction (one commit: a
        delivery that failed on a route and then went out on the next costs one)."""
        if not entries:
            return
        with self._engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            for entry in entries:
                values = {
                    "status": entry.status,
                    "detail": entry.detail[:2000],
                    "recorded_at": entry.recorded_at,
                }
                row = {
                    "notification_id": entry.notification_id,
                    "channel": entry.channel,
                    "case_id": entry.case_id,
                    "event": entry.event,
                }
                upsert = insert(deliveries).values(**row, **values)
                connection.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[deliveries.c.notification_id, deliveries.c.channel],
                        set_=values,
                        where=deliveries.c.status != "sent",
                    )
                )

    def for_case(self, case_id: str) -> list[dict[str, object]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(deliveries).where(deliveries.c.case_id == case_id).order_by(deliveries.c.recorded_at)
            ).mappings()
            return [dict(r) for r in rows]


def dialect_insert(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL both have it)."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"casework's database is SQLite or PostgreSQL, not {dialect}")

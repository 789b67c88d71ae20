"""The delivery ledger: which notification ids went out on which channel (exactly once)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, and_, insert, select, update

from activities.schema import deliveries


class DeliveryLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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
        values = {"status": status, "detail": detail[:2000], "recorded_at": datetime.now(UTC)}
        key = and_(deliveries.c.notification_id == notification_id, deliveries.c.channel == channel)
        with self._engine.begin() as connection:
            if connection.execute(select(deliveries.c.status).where(key)).first():
                connection.execute(update(deliveries).where(key).values(**values))
            else:
                connection.execute(
                    insert(deliveries).values(
                        notification_id=notification_id,
                        channel=channel,
                        case_id=case_id,
                        event=event,
                        **values,
                    )
                )

    def for_case(self, case_id: str) -> list[dict[str, object]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(deliveries).where(deliveries.c.case_id == case_id).order_by(deliveries.c.recorded_at)
            ).mappings()
            return [dict(r) for r in rows]

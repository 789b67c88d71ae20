"""Deliver notifications. For now to an outbox file (JSON lines); a later issue adds SMTP/webhooks.

Delivery is idempotent by notification id: a retried or re-run activity finds the id already in
the outbox and does not write it twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
from datetime import UTC, datetime
from pathlib import Path

from temporalio import activity

from support.notifications import DeliveryReceipt, Notification


class NotifyActivities:
    def __init__(self, outbox_path: Path) -> None:
        self._outbox = outbox_path

    @activity.defn(name="send_notification")
    async def send_notification(self, notification: Notification) -> DeliveryReceipt:
        duplicate = await asyncio.to_thread(self._append_once, notification)
        # Ids and event names only: recipients and facts are personal data.
        activity.logger.info(
            "notification %s",
            "already delivered" if duplicate else "delivered",
            extra={"notification_id": notification.notification_id, "audience": notification.audience.value},
        )
        return DeliveryReceipt(
            notification_id=notification.notification_id, channel="outbox", duplicate=duplicate
        )

    def _append_once(self, notification: Notification) -> bool:
        self._outbox.parent.mkdir(parents=True, exist_ok=True)
        with self._outbox.open("a+", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            outbox.seek(0)
            for line in outbox:
                if line.strip() and json.loads(line).get("notification_id") == notification.notification_id:
                    return True
            record = notification.model_dump(mode="json") | {"delivered_at": datetime.now(UTC).isoformat()}
            outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
            outbox.flush()
            return False


def read_outbox(path: Path) -> list[dict[str, object]]:
    """Every notification in an outbox file, oldest first (for the CLI and tests)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

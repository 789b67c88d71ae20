"""The envelope senders of the notifications mailed to the customer's side, in the database every
worker and inbound listener shares: `bounce+<token>@<reply domain>` (VERP), the token a keyed digest
of the notification id (support.messaging.reply_addresses.bounce_token).

The delivery activity records a notification's token before its mail goes out (idempotent: one row
per token); the inbound listener accepts mail to a recorded token only (any other is refused at
RCPT like any unknown address: no backscatter), and the first delivery status notification that
says the mail failed marks the row bounced, with the remote server's text (`mark_bounced`, once).
Each call is one short transaction; callers in async code run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from adapters.delivery_ledger import dialect_insert
from adapters.schema import bounce_addresses

DETAIL_MAX = 400  # characters of the remote server's text kept with a bounce


@dataclass(frozen=True)
class BounceRecord:
    """What a bounce address stands for, and whether a report already said it failed."""

    token: str
    notification_id: str
    case_id: str
    event: str
    audience: str
    bounced_at: datetime | None
    detail: str | None


class BounceAddresses:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def remember(self, token: str, notification_id: str, case_id: str, event: str, audience: str) -> None:
        """Record that `token` names this notification (a row already there is left as it is)."""
        with self._engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            connection.execute(
                insert(bounce_addresses)
                .values(
                    token=token,
                    notification_id=notification_id,
                    case_id=case_id,
                    event=event,
                    audience=audience,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[bounce_addresses.c.token])
            )

    def find(self, token: str) -> BounceRecord | None:
        """The notification a token names, or None for a token casework never sent."""
        table = bounce_addresses
        with self._engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.token == token)).mappings().first()
        if row is None:
            return None
        return BounceRecord(
            token=row["token"],
            notification_id=row["notification_id"],
            case_id=row["case_id"],
            event=row["event"],
            audience=row["audience"],
            bounced_at=row["bounced_at"],
            detail=row["bounce_detail"],
        )

    def mark_bounced(self, token: str, detail: str) -> bool:
        """Mark the token's notification bounced with the server's text; True for the first mark,
        False when a report had already marked it (one atomic statement: two listeners at once
        mark it once)."""
        table = bounce_addresses
        with self._engine.begin() as connection:
            done = connection.execute(
                update(table)
                .where(table.c.token == token, table.c.bounced_at.is_(None))
                .values(bounced_at=datetime.now(UTC), bounce_detail=detail[:DETAIL_MAX])
            )
        return bool(done.rowcount)

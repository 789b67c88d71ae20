"""Case reply addresses in the database every worker and API process shares: the token of each
`case+<token>@<reply domain>` casework has sent, and the case it stands for.

The delivery activity records a case's token before an email naming it goes out (idempotent: one
row per token, written again at no cost by any worker); the inbound listener, on whichever process
the reply reaches, looks the token up by its key. Each call is one short transaction; callers in
async code run them in a thread.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from adapters.delivery_ledger import dialect_insert
from adapters.schema import reply_addresses


class ReplyAddresses:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def remember(self, token: str, case_id: str, tenant_id: str) -> None:
        """Record that `token` names `case_id`; a token already recorded is left as it is (the same
        case: the token is a keyed digest of the case id)."""
        with self._engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            connection.execute(
                insert(reply_addresses)
                .values(token=token, case_id=case_id, tenant_id=tenant_id, created_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=[reply_addresses.c.token])
            )

    def case_for(self, token: str) -> str | None:
        """The case a token names, or None for a token casework never sent."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(reply_addresses.c.case_id).where(reply_addresses.c.token == token)
            ).first()
        return row[0] if row else None

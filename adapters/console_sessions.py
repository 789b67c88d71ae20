"""Console sessions signed out before they expire, in the database every API process shares.

The console's session cookie is signed and stateless (interfaces/console/session.py); what makes
sign-out hold on every API process and after a restart is a row here, kept until the session would
have expired anyway. A session is named by the SHA-256 of its nonce, never by the nonce itself (the
nonce is what its forms' CSRF tokens are made from). Each sign-out deletes the rows whose sessions
have expired, so the table holds at most the sessions signed out in the last session lifetime.

Each call is one short transaction; callers in async code run them in a thread.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from adapters.schema import console_sessions_revoked


class SignedOutSessions:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sign_out(self, session_id: str, expires_at: datetime) -> None:
        """Refuse this session from now until `expires_at`; forget sessions already expired."""
        table = console_sessions_revoked
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(table).where(table.c.expires_at <= now))
                if expires_at > now:
                    connection.execute(insert(table).values(session_id=session_id, expires_at=expires_at))
        except IntegrityError:
            pass  # signed out already (two sign-outs of one session at once)

    def signed_out(self, session_id: str) -> bool:
        table = console_sessions_revoked
        with self._engine.connect() as connection:
            row = connection.execute(
                select(table.c.session_id).where(table.c.session_id == session_id)
            ).first()
        return row is not None

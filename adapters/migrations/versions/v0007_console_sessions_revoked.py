"""console_sessions_revoked: console sessions signed out before they expire.

A row per signed-out session (the SHA-256 of its nonce) until the session would have expired, read
by every API process on each console request, so sign-out holds across processes and restarts.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions_revoked",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_revoked_expires_at", "console_sessions_revoked", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_revoked_expires_at", table_name="console_sessions_revoked")
    op.drop_table("console_sessions_revoked")

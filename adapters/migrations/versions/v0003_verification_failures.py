"""Wrong phone verification codes per tenant and caller (the number kept as an HMAC).

Schema version 3 of the hand-written migrations, as it was: the last one before Alembic.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_failures",
        sa.Column("tenant_id", sa.String(63), primary_key=True),
        sa.Column("caller_mac", sa.String(64), primary_key=True),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verification_failures")

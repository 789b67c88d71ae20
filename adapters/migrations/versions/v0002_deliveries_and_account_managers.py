"""The delivery ledger (notification_deliveries) and the tenants' account manager.

Schema version 2 of the hand-written migrations, as it was (`make run` made this until version 3).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("account_manager_email", sa.String(254)))
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.String(300), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("case_id", sa.String(80), nullable=False),
        sa.Column("event", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notification_deliveries_case_id", "notification_deliveries", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_deliveries_case_id", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    with op.batch_alter_table("tenants") as batch:  # SQLite: the table is copied without the column
        batch.drop_column("account_manager_email")

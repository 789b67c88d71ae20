"""notification_deliveries.case_id as long as a case id can be (VARCHAR(80) -> VARCHAR(200)).

A case id is `case-<tenant>.<request>`: up to 5 + 63 + 1 + 64 = 133 characters, which
PostgreSQL refused in the ledger's VARCHAR(80) ("value too long"); SQLite never enforced it.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostgreSQL: one ALTER COLUMN ... TYPE; SQLite: the table is copied (its index with it).
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.alter_column(
            "case_id", type_=sa.String(200), existing_type=sa.String(80), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.alter_column(
            "case_id", type_=sa.String(80), existing_type=sa.String(200), existing_nullable=False
        )

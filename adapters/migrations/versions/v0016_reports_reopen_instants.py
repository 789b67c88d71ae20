"""closed_cases.reopened_at: when each reopen of a closed case happened (a JSON list of instants).

Reports count a reopen in the window in which it happened, not with the case's opening; the
instants are no personal data, so reports read them without opening the sealed record. Rows
archived before this revision have none (null): their reopens count with their opening, as before.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("closed_cases") as batch:
        batch.add_column(sa.Column("reopened_at", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("closed_cases") as batch:
        batch.drop_column("reopened_at")

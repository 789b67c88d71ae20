"""console_cases: what the SLA report counts of a running case, so reports read the projection.

The reports page used to query each answered running case for its view (how long its first
response took, when it was reopened): one query per case, seconds at 5,000 open cases. The row now
keeps the first response's due time and business time to answer, and when each reopen happened
(a JSON list, with the latest apart and indexed: which rows a window reads). Rows written before
this revision have none until the case's next action or read, or `starter.py console reproject`.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("console_cases") as batch:
        batch.add_column(sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_response_business_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("reopened_at", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("last_reopened_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_console_cases_last_reopened_at", "console_cases", ["last_reopened_at"])


def downgrade() -> None:
    op.drop_index("ix_console_cases_last_reopened_at", "console_cases")
    with op.batch_alter_table("console_cases") as batch:
        batch.drop_column("last_reopened_at")
        batch.drop_column("reopened_at")
        batch.drop_column("first_response_business_s")
        batch.drop_column("first_response_due")

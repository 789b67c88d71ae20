"""Closed cases' records and attachments sealed at rest with the encryption key.

`closed_cases.key_id` and `attachments.key_id` name the key (adapters.codec.key_id) that sealed the
row's personal data (`record`; `filename` and `content`); null means the row is in clear, as every
row written before this revision is (they stay readable as they are). `attachments.filename`
becomes TEXT: sealed, a 200-character name takes more than 200 characters of base64.
`closed_cases.first_response_severity` is the severity whose clock decided the first response, so
reports need not open the record (null on older rows: reports read their record, in clear).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("closed_cases") as table:
        table.add_column(sa.Column("first_response_severity", sa.String(1)))
        table.add_column(sa.Column("key_id", sa.String(16)))
    with op.batch_alter_table("attachments") as table:
        table.alter_column("filename", type_=sa.Text(), existing_type=sa.String(200), existing_nullable=False)
        table.add_column(sa.Column("key_id", sa.String(16)))


def downgrade() -> None:
    """Only a database whose rows are all in clear can go down: a sealed filename may not fit."""
    with op.batch_alter_table("attachments") as table:
        table.drop_column("key_id")
        table.alter_column("filename", type_=sa.String(200), existing_type=sa.Text(), existing_nullable=False)
    with op.batch_alter_table("closed_cases") as table:
        table.drop_column("key_id")
        table.drop_column("first_response_severity")

"""inbound_messages and attachments: customers' email replies taken once, and their attachments.

`inbound_messages` keys a received mail by its case and the SHA-256 of its Message-ID (the same
mail delivered again is one message); `attachments` keeps each attachment's bytes outside the
workflow (LargeBinary: BYTEA on PostgreSQL, BLOB on SQLite), keyed by the id the case lists.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = sa.DateTime(timezone=True)
    op.create_table(
        "inbound_messages",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("message_hash", sa.String(64), primary_key=True),
        sa.Column("received_at", instant, nullable=False),
    )
    op.create_table(
        "attachments",
        sa.Column("attachment_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("message_hash", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("stored_at", instant, nullable=False),
    )
    op.create_index("ix_attachments_case_id", "attachments", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_case_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_table("inbound_messages")

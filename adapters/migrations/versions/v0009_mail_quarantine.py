"""mail_quarantine: replies that may be a robot's or a person's, held until an operator decides.

A reply with a mailing list's headers, or bulk precedence beside a person's signs, is neither
dropped nor added to its case: it is kept here whole (sealed with the key ring when one is set,
the row naming its key) and listed by `starter.py mail quarantine`; `starter.py mail release ID`
adds it to its case once.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = sa.DateTime(timezone=True)
    op.create_table(
        "mail_quarantine",
        sa.Column("quarantine_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("message_hash", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(254), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("received_at", instant, nullable=False),
        sa.Column("released_at", instant),
        sa.Column("outcome", sa.String(300)),
        sa.Column("key_id", sa.String(16)),  # the key that sealed `content`; null: in clear
        sa.UniqueConstraint("case_id", "message_hash", name="uq_mail_quarantine_mail"),
    )
    op.create_index("ix_mail_quarantine_case_id", "mail_quarantine", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_quarantine_case_id", table_name="mail_quarantine")
    op.drop_table("mail_quarantine")

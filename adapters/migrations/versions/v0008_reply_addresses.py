"""reply_addresses: the token of each case reply address casework has sent, and its case.

`case+<token>@<reply domain>` is short whatever the case id's length; the row, written before the
mail goes out, is how any listener on the shared database finds the case a reply is for.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_addresses",
        sa.Column("token", sa.String(26), primary_key=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reply_addresses_case_id", "reply_addresses", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_reply_addresses_case_id", table_name="reply_addresses")
    op.drop_table("reply_addresses")

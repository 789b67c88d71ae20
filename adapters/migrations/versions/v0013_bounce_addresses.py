"""bounce_addresses: the envelope sender of each notification mailed to the customer's side.

Customer mail goes out from `bounce+<token>@<reply domain>` (VERP): the token is a keyed digest of
the notification id, recorded here before the mail goes out, so a delivery status notification
(RFC 3464) that a mail server sends back later is tied to its notification and case. `bounced_at`
and `bounce_detail` (the remote server's text, bounded) are set by the first report that the mail
failed; a second report for the token changes nothing.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bounce_addresses",
        sa.Column("token", sa.String(26), primary_key=True),
        sa.Column("notification_id", sa.String(300), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("event", sa.String(80), nullable=False),
        sa.Column("audience", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bounce_detail", sa.String(400), nullable=True),
    )
    op.create_index("ix_bounce_addresses_case_id", "bounce_addresses", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_bounce_addresses_case_id", table_name="bounce_addresses")
    op.drop_table("bounce_addresses")

"""The tenant directory: tenants, their users and contacts, service incidents.

Schema version 1 of the hand-written migrations (`schema_version`), as it was: a database that
recorded version 1 is stamped with this revision (adapters.schema.migrate).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("agreement", sa.String(16), nullable=False),
        sa.Column("purchase_channel", sa.String(16), nullable=False),
        sa.Column("partner_name", sa.String(200)),
        sa.Column("partner_contact", sa.String(254)),
    )
    op.create_table(
        "tenant_users",
        sa.Column(
            "tenant_id",
            sa.String(63),
            sa.ForeignKey("tenants.tenant_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sign_in", sa.String(200), primary_key=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
    )
    op.create_table(
        "tenant_contacts",
        sa.Column(
            "tenant_id",
            sa.String(63),
            sa.ForeignKey("tenants.tenant_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("value", sa.String(254), primary_key=True),
    )
    op.create_table(
        "service_incidents",
        sa.Column("incident_id", sa.String(64), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_service_incidents_service", "service_incidents", ["service"])


def downgrade() -> None:
    op.drop_index("ix_service_incidents_service", table_name="service_incidents")
    op.drop_table("service_incidents")
    op.drop_table("tenant_contacts")
    op.drop_table("tenant_users")
    op.drop_table("tenants")

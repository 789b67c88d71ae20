"""closed_cases: the final record of every case that ended, written by the archive activity.

The first revision made with Alembic. Times are `TIMESTAMP WITH TIME ZONE` (PostgreSQL) or UTC
text (SQLite), written and read through adapters.schema.UtcDateTime.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = sa.DateTime(timezone=True)
    op.create_table(
        "closed_cases",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("requested_severity", sa.String(1), nullable=False),
        sa.Column("initial_severity", sa.String(1)),
        sa.Column("final_severity", sa.String(1)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", instant, nullable=False),
        sa.Column("opened_at", instant),
        sa.Column("first_response_due", instant),
        sa.Column("first_response_at", instant),
        sa.Column("first_response_met", sa.Boolean),
        sa.Column("sla_breached", sa.Boolean, nullable=False),
        sa.Column("first_response_business_s", sa.Float),
        sa.Column("first_response_wall_s", sa.Float),
        sa.Column("customer_update_breaches", sa.Integer, nullable=False),
        sa.Column("downgrades", sa.Integer, nullable=False),
        sa.Column("reopens", sa.Integer, nullable=False),
        sa.Column("resolved_at", instant),
        sa.Column("closed_at", instant),
        sa.Column("survey_outcome", sa.String(16)),
        sa.Column("survey_score", sa.Integer),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("archived_at", instant, nullable=False),
    )
    op.create_index("ix_closed_cases_tenant_id", "closed_cases", ["tenant_id"])
    op.create_index("ix_closed_cases_opened_at", "closed_cases", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_closed_cases_opened_at", table_name="closed_cases")
    op.drop_index("ix_closed_cases_tenant_id", table_name="closed_cases")
    op.drop_table("closed_cases")

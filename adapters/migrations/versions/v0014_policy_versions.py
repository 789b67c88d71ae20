"""Policy versions on record, and what a closed case keeps for the SLA what-if.

`policy_versions`: every policy file a worker or the API loaded, once per digest (the SHA-256 of
its parsed, canonical form, support.policies.versions.policy_digest): when it was first seen, by
which process, and the file's text, so `starter.py policy diff` can show what changed.
`closed_cases.policy_digest`: the version the case opened under. `closed_cases.by_assignee`: the
business seconds each engineer held each clock (JSON, staff names only). `closed_cases.inputs`: the
events the case's machine saw, with their instants (bounded; sealed like `record`, its key in
`inputs_key_id`), so a what-if re-decides the case after Temporal's retention dropped its history.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen_by", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    with op.batch_alter_table("closed_cases") as table:
        table.add_column(sa.Column("policy_digest", sa.String(64)))
        table.add_column(sa.Column("by_assignee", sa.JSON))
        table.add_column(sa.Column("inputs", sa.Text))
        table.add_column(sa.Column("inputs_key_id", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("closed_cases") as table:
        table.drop_column("inputs_key_id")
        table.drop_column("inputs")
        table.drop_column("by_assignee")
        table.drop_column("policy_digest")
    op.drop_table("policy_versions")

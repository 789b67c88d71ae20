"""The console's projection of cases and its search index (the engineer's workspace, #24).

`console_cases`: one row per case (adapters.console_cases), so queue views, counts, pages and the
dashboard are indexed queries. `case_search`: a blind full-text index, one row per indexed text (the
case's opening words, each thread message) holding keyed MACs of its normalised words, never the
words: SQLite FTS5 (`tokenize='ascii'`), PostgreSQL a `tsvector` ('simple') kept by the database
with a GIN index. The search table is not part of adapters.schema's model (FTS5 is a virtual table).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_cases",
        sa.Column("case_id", sa.String(200), primary_key=True),
        sa.Column("case_number", sa.String(32)),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(1)),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(200)),
        sa.Column("next_deadline", sa.DateTime(timezone=True)),
        sa.Column("clock", sa.String(32)),
        sa.Column("first_response_at", sa.DateTime(timezone=True)),
        sa.Column("first_response_met", sa.Boolean),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True)),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("time_zone", sa.String(64)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(16)),
        sa.Column("projected_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("case_number", "tenant_id", "status", "assignee", "next_deadline"):
        op.create_index(f"ix_console_cases_{column}", "console_cases", [column])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE case_search USING fts5("
            "terms, case_id UNINDEXED, source UNINDEXED, tenant_id UNINDEXED, internal UNINDEXED, "
            "tokenize='ascii')"
        )
    else:
        op.execute(
            "CREATE TABLE case_search ("
            "case_id VARCHAR(200) NOT NULL, source VARCHAR(32) NOT NULL, tenant_id VARCHAR(63) NOT NULL, "
            "internal BOOLEAN NOT NULL, terms TEXT NOT NULL, "
            "terms_tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED, "
            "PRIMARY KEY (case_id, source))"
        )
        op.execute("CREATE INDEX ix_case_search_terms ON case_search USING gin (terms_tsv)")


def downgrade() -> None:
    op.execute("DROP TABLE case_search")
    op.drop_table("console_cases")

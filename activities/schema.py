"""The casework database schema and its migrations (SQLite by default, PostgreSQL by DATABASE_URL).

`migrate()` applies an append-only list of migrations, each once, in its own transaction, and
records it in `schema_version`, so every process can call it safely at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    insert,
    select,
    text,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("agreement", String(16), nullable=False),
    Column("purchase_channel", String(16), nullable=False),
    Column("partner_name", String(200)),
    Column("partner_contact", String(254)),
    Column("account_manager_email", String(254)),  # v2
)
tenant_users = Table(
    "tenant_users",
    metadata,
    Column("tenant_id", String(63), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
    Column("sign_in", String(200), primary_key=True),
    Column("is_admin", Boolean, nullable=False),
)
tenant_contacts = Table(
    "tenant_contacts",
    metadata,
    Column("tenant_id", String(63), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("value", String(254), primary_key=True),
)
incidents = Table(
    "service_incidents",
    metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("service", String(64), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)


def _v1_directory(connection: Connection) -> None:
    # The tenants table as version 1 had it: a migration is a snapshot, not today's model.
    v1 = MetaData()
    Table(
        "tenants",
        v1,
        Column("tenant_id", String(63), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("country", String(2), nullable=False),
        Column("time_zone", String(64), nullable=False),
        Column("agreement", String(16), nullable=False),
        Column("purchase_channel", String(16), nullable=False),
        Column("partner_name", String(200)),
        Column("partner_contact", String(254)),
    )
    v1.create_all(connection)
    metadata.create_all(connection, tables=[tenant_users, tenant_contacts, incidents])


deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("notification_id", String(300), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("case_id", String(80), nullable=False, index=True),
    Column("event", String(80), nullable=False),
    Column("status", String(16), nullable=False),  # sent | failed
    Column("detail", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


def _v2_deliveries_and_account_managers(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE tenants ADD COLUMN account_manager_email VARCHAR(254)"))
    metadata.create_all(connection, tables=[deliveries])


# Wrong phone verification codes per tenant and caller number, across requests: a window opens at
# the first failure and counts failures until it is an hour old. The number is kept as an HMAC
# under the verification key (support.verification.caller_mac), never in clear.
verification_failures = Table(
    "verification_failures",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("caller_mac", String(64), primary_key=True),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False),
)


def _v3_verification_failures(connection: Connection) -> None:
    metadata.create_all(connection, tables=[verification_failures])


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, stored as `TIMESTAMP WITH TIME ZONE` (PostgreSQL) or UTC text (SQLite), read back
    aware and in UTC on both: SQLite keeps no zone (it would give naive times back, and would store an
    aware non-UTC time as its wall-clock reading), and PostgreSQL answers in its session's zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"an aware datetime is required here, not {value!r}")
        instant = value.astimezone(UTC)
        return instant.replace(tzinfo=None) if dialect.name == "sqlite" else instant

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The final record of every case that ended (closed, closed unresponsive, refused...), one row per
# case, written by the archive activity; the columns are what reports count, `record` is the whole
# final CaseView as JSON (support.closed_case.closed_case_row derives the rest from it).
closed_cases = Table(
    "closed_cases",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("tenant_id", String(63), nullable=False, index=True),
    Column("category", String(16), nullable=False),
    Column("requested_severity", String(1), nullable=False),
    Column("initial_severity", String(1)),  # granted at opening; none for a refused case
    Column("final_severity", String(1)),
    Column("status", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, index=True),  # reports count cases by when they were opened
    Column("first_response_due", UtcDateTime),
    Column("first_response_at", UtcDateTime),
    Column("first_response_met", Boolean),  # null when never answered
    Column("sla_breached", Boolean, nullable=False),
    Column("first_response_business_s", Float),
    Column("first_response_wall_s", Float),
    Column("customer_update_breaches", Integer, nullable=False),
    Column("downgrades", Integer, nullable=False),
    Column("reopens", Integer, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("survey_outcome", String(16)),  # pending | answered | no_answer
    Column("survey_score", Integer),
    Column("record", Text, nullable=False),
    Column("archived_at", UtcDateTime, nullable=False),
)


# Append only. A released migration is never edited; a schema change is a new function here.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_directory,
    _v2_deliveries_and_account_managers,
    _v3_verification_failures,
]


def migrate(engine: Engine) -> int:
    """Bring the schema to the latest version; returns the version it is at."""
    metadata.create_all(engine, tables=[schema_version])
    with engine.begin() as connection:
        current = connection.execute(
            select(schema_version.c.version).order_by(schema_version.c.version.desc())
        ).first()
    version = current[0] if current else 0
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with engine.begin() as connection:
            migration(connection)
            connection.execute(insert(schema_version).values(version=number, applied_at=datetime.now(UTC)))
        version = number
    return version

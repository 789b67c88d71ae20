"""The casework database schema and its migrations (SQLite by default, PostgreSQL by DATABASE_URL).

`migrate()` applies an append-only list of migrations, each once, in its own transaction, and
records it in `schema_version`, so every process can call it safely at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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

"""The tenant directory in a real database (SQLite by default, PostgreSQL by DATABASE_URL).

Tenants, their users and admin roles, their registered contact emails and phones, and service
health incidents. Only activities and the `directory import` command touch it; workflows get
facts from activity results. The schema is created and migrated on start by `migrate()`: an
ordered list of migrations, each applied once in its own transaction and recorded in
`schema_version`, so every process can call it safely at start-up.
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
    delete,
    insert,
    select,
    update,
)

from support.directory import DirectoryFile, Incident
from support.tenant import TenantFacts

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
    metadata.create_all(connection, tables=[tenants, tenant_users, tenant_contacts, incidents])


# Append only. A released migration is never edited; a schema change is a new function here.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_directory]


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


def import_directory(engine: Engine, directory: DirectoryFile) -> dict[str, int]:
    """Load tenants and incidents idempotently, all or nothing: one transaction.

    A tenant in the file replaces that tenant's row, users and contacts; tenants not in the file
    are left alone. Incidents are upserted by id.
    """
    with engine.begin() as connection:
        for tenant_id, record in directory.tenants.items():
            row = record.facts(tenant_id).model_dump(mode="json")
            exists = connection.execute(
                select(tenants.c.tenant_id).where(tenants.c.tenant_id == tenant_id)
            ).first()
            if exists:
                connection.execute(update(tenants).where(tenants.c.tenant_id == tenant_id).values(**row))
            else:
                connection.execute(insert(tenants).values(**row))
            connection.execute(delete(tenant_users).where(tenant_users.c.tenant_id == tenant_id))
            connection.execute(delete(tenant_contacts).where(tenant_contacts.c.tenant_id == tenant_id))
            users = {u: False for u in record.users} | {a: True for a in record.admins}
            if users:
                connection.execute(
                    insert(tenant_users),
                    [{"tenant_id": tenant_id, "sign_in": u.lower(), "is_admin": a} for u, a in users.items()],
                )
            contacts = {("email", e.lower()) for e in record.registered_emails} | {
                ("phone", p) for p in record.registered_phones
            }
            if contacts:
                connection.execute(
                    insert(tenant_contacts),
                    [{"tenant_id": tenant_id, "kind": k, "value": v} for k, v in sorted(contacts)],
                )
        for incident in directory.incidents:
            values = incident.model_dump()
            exists = connection.execute(
                select(incidents.c.incident_id).where(incidents.c.incident_id == incident.incident_id)
            ).first()
            if exists:
                connection.execute(
                    update(incidents).where(incidents.c.incident_id == incident.incident_id).values(**values)
                )
            else:
                connection.execute(insert(incidents).values(**values))
    return {"tenants": len(directory.tenants), "incidents": len(directory.incidents)}


class DirectoryStore:
    """Reads for the case activities. Each call is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def tenant(self, tenant_id: str) -> TenantFacts | None:
        with self._engine.connect() as connection:
            row = (
                connection.execute(select(tenants).where(tenants.c.tenant_id == tenant_id)).mappings().first()
            )
        return TenantFacts.model_validate(dict(row)) if row else None

    def is_admin(self, tenant_id: str, sign_in: str) -> bool:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(tenant_users.c.is_admin).where(
                    tenant_users.c.tenant_id == tenant_id, tenant_users.c.sign_in == sign_in.lower()
                )
            ).first()
        return bool(row and row[0])

    def registered(self, tenant_id: str, kind: str) -> list[str]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(tenant_contacts.c.value)
                .where(tenant_contacts.c.tenant_id == tenant_id, tenant_contacts.c.kind == kind)
                .order_by(tenant_contacts.c.value)
            ).all()
        return [r[0] for r in rows]

    def active_incident(self, service: str, at: datetime) -> Incident | None:
        with self._engine.connect() as connection:
            rows = (
                connection.execute(
                    select(incidents)
                    .where(incidents.c.service == service)
                    .order_by(incidents.c.started_at.desc())
                )
                .mappings()
                .all()
            )
        for row in rows:
            incident = Incident.model_validate(dict(row))
            if incident.active_at(at):
                return incident
        return None

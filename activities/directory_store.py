"""The tenant directory in the database: tenants, their users and admin roles, registered contact
emails and phones, and service health incidents. Only activities and the `directory import`
command touch it; workflows get facts from activity results. Schema: `activities/schema.py`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update

from activities.schema import incidents, tenant_contacts, tenant_users, tenants
from support.directory import DirectoryFile, Incident
from support.tenant import TenantFacts


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

    def contact_belongs(self, tenant_id: str, email: str) -> bool:
        """An address the tenant's directory entry holds: one of its users or registered emails."""
        address = email.strip().lower()
        with self._engine.connect() as connection:
            user = connection.execute(
                select(tenant_users.c.sign_in).where(
                    tenant_users.c.tenant_id == tenant_id, tenant_users.c.sign_in == address
                )
            ).first()
        return user is not None or address in {e.lower() for e in self.registered(tenant_id, "email")}

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

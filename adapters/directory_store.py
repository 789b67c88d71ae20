"""The tenant directory in the database: tenants, their users and admin roles, registered contact
emails and phones, and service health incidents. Only activities and the `directory import`
command touch it; workflows get facts from activity results. Schema: `adapters/schema.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, case, delete, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.schema import incidents, tenant_contacts, tenant_users, tenants, verification_failures
from support.identity.directory import DirectoryFile, Incident
from support.identity.tenant import TenantFacts


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

    @property
    def engine(self) -> Engine:
        return self._engine

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


class VerificationFailures:
    """Wrong phone verification codes per (tenant, caller), and per tenant, across requests.

    A window opens at a pair's first failure and counts failures until it is `window` old; at
    `limit` failures the pair is locked until the window ends. The same holds for all the
    tenant's callers together (its row `TENANT_ROW`) at `tenant_limit`, so new numbers buy no
    more tries than the tenant has. The caller is given as its MAC
    (`support.identity.verification.caller_mac`): the table never holds a phone number. Every change is one
    conditional UPDATE, so concurrent attempts (several API processes, several requests at once)
    cannot count past the limit. Times are UTC. A limit of 0 turns its lock off (failures are
    still counted), like casework's other limits.
    """

    def __init__(
        self, engine: Engine, limit: int, window: timedelta = timedelta(hours=1), tenant_limit: int = 0
    ) -> None:
        self._engine = engine
        self._limit = limit
        self._window = window
        self._tenant_limit = tenant_limit

    def locked_for(self, tenant_id: str, caller: str, now: datetime) -> timedelta | None:
        """How long the pair (or the whole tenant) stays locked, or None when it may try a code."""
        locks = [
            lock
            for lock in (
                self._locked(tenant_id, caller, self._limit, now),
                self._locked(tenant_id, TENANT_ROW, self._tenant_limit, now),
            )
            if lock is not None
        ]
        return max(locks) if locks else None

    def _locked(self, tenant_id: str, caller: str, limit: int, now: datetime) -> timedelta | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(verification_failures.c.window_started_at, verification_failures.c.failures).where(
                    *self._pair(tenant_id, caller)
                )
            ).first()
        if row is None or limit <= 0 or row.failures < limit:
            return None
        ends = _utc(row.window_started_at) + self._window
        return ends - now if ends > now else None

    def record(self, tenant_id: str, caller: str, now: datetime) -> None:
        """Count one wrong code (a window older than `window` starts again at this one)."""
        self._count(tenant_id, caller, now, None)
        self._count(tenant_id, TENANT_ROW, now, None)

    def reserve(self, tenant_id: str, caller: str, now: datetime) -> timedelta | None:
        """Count one attempt as wrong before it is checked, unless the pair or the tenant is
        locked: None when counted (`release` it if the code was right or never checked), else how
        long the lock lasts."""
        if self._count(tenant_id, caller, now, self._limit):
            if self._count(tenant_id, TENANT_ROW, now, self._tenant_limit):
                return None
            self._release(tenant_id, caller)
        return self.locked_for(tenant_id, caller, now) or timedelta(seconds=1)

    def release(self, tenant_id: str, caller: str) -> None:
        """Take back one reserved attempt."""
        self._release(tenant_id, caller)
        self._release(tenant_id, TENANT_ROW)

    def _release(self, tenant_id: str, caller: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(verification_failures)
                .where(*self._pair(tenant_id, caller), verification_failures.c.failures > 0)
                .values(failures=verification_failures.c.failures - 1)
            )

    def _count(self, tenant_id: str, caller: str, now: datetime, up_to: int | None) -> bool:
        """Count one failure of the row; with `up_to` (a limit, 0 = none) only below it."""
        table = verification_failures
        now = now.astimezone(UTC)
        started = literal(now, type_=table.c.window_started_at.type)
        cutoff = literal(now - self._window, type_=table.c.window_started_at.type)
        expired = table.c.window_started_at <= cutoff
        condition = [*self._pair(tenant_id, caller)]
        if up_to is not None and up_to > 0:
            condition.append(or_(expired, table.c.failures < up_to))
        with self._engine.begin() as connection:
            self._ensure_row(connection, tenant_id, caller, now)
            counted = connection.execute(
                update(table)
                .where(*condition)
                .values(
                    failures=case((expired, 1), else_=table.c.failures + 1),
                    window_started_at=case((expired, started), else_=table.c.window_started_at),
                )
            )
        return counted.rowcount == 1

    def _ensure_row(self, connection: Connection, tenant_id: str, caller: str, now: datetime) -> None:
        values = {"tenant_id": tenant_id, "caller_mac": caller, "window_started_at": now, "failures": 0}
        # The two databases casework runs on (docs/configuration.md: DATABASE_URL) both say
        # "insert unless there".
        dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
        connection.execute(dialect.insert(verification_failures).values(values).on_conflict_do_nothing())

    @staticmethod
    def _pair(tenant_id: str, caller: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return verification_failures.c.tenant_id == tenant_id, verification_failures.c.caller_mac == caller


# The row of all a tenant's callers: a caller is kept as its MAC (64 hex digits), never this.
TENANT_ROW = "*"


def _utc(at: datetime) -> datetime:
    """SQLite gives back naive datetimes; every time stored here is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at

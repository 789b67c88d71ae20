"""The casework database schema and its migrations (SQLite by default, PostgreSQL by DATABASE_URL).

The tables here are today's model; the migrations are Alembic revisions shipped in the package
(adapters/migrations/versions/, each a snapshot of its change). `migrate()` brings a database to
the latest revision, in one transaction that one process at a time runs, so every process calls it
safely at start-up. Databases made before Alembic (a `schema_version` table of hand-written versions
1-3) are stamped with the matching revision first, then upgraded; their `schema_version` table is
kept as it was (frozen), so a process of the previous release still starts against them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)

metadata = MetaData()

# The hand-written migrations' record (versions 1-3), before Alembic: read once to stamp an older
# database, never written any more. Alembic keeps its own (`alembic_version`).
schema_version = Table(
    "schema_version",
    MetaData(),  # not part of today's model (`metadata`): new databases never have it
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


deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("notification_id", String(300), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("case_id", String(200), nullable=False, index=True),  # String(80) before revision 0005
    Column("event", String(80), nullable=False),
    Column("status", String(16), nullable=False),  # sent | failed
    Column("detail", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)


# Wrong phone verification codes per tenant and caller number, across requests: a window opens at
# the first failure and counts failures until it is an hour old. The number is kept as an HMAC
# under the verification key (support.identity.verification.caller_mac), never in clear.
verification_failures = Table(
    "verification_failures",
    metadata,
    Column("tenant_id", String(63), primary_key=True),
    Column("caller_mac", String(64), primary_key=True),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False),
)


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
# final CaseView as JSON (support.reporting.closed_case.closed_case_row derives the rest from it). With
# CASEWORK_ENCRYPTION_KEY set (revision 0010), `record` is sealed (base64 of AES-256-GCM, adapters.codec)
# and `key_id` names its key; the other columns, which reports read, hold no personal data and stay
# in clear. A row with no `key_id` was written in clear.
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
    # the severity whose clock decided the first response (reports read it instead of the record)
    Column("first_response_severity", String(1)),
    Column("key_id", String(16)),  # the key that sealed `record`; null: in clear
    # revision 0014: the policy version it opened under, who held each clock (business seconds,
    # staff names only), and its recorded inputs for the what-if (sealed like `record`)
    Column("policy_digest", String(64)),
    Column("by_assignee", JSON),
    Column("inputs", Text),
    Column("inputs_key_id", String(16)),
    Column("reopened_at", JSON),  # revision 0015: when each reopen happened (instants, ISO 8601)
)

# Every policy file a worker or the API loaded, once per digest (revision 0014; adapters.policy_versions).
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("version", String(200), nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("first_seen_by", String(200), nullable=False),
    Column("text", Text, nullable=False),
)


# Customers' email replies (revision 0006): the mails a case has taken, one row per case and Message-ID
# hash, so the same mail delivered twice is one message; and their attachments, kept here and not in
# the workflow's state (the case lists their `AttachmentRef`s), served to those who may read the case.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("message_hash", String(64), primary_key=True),  # support.messaging.reply_addresses.message_hash
    Column("received_at", UtcDateTime, nullable=False),
)
attachments = Table(
    "attachments",
    metadata,
    Column("attachment_id", String(64), primary_key=True),  # SHA-256 of the case, message and content
    Column("case_id", String(200), nullable=False, index=True),
    Column("tenant_id", String(63), nullable=False),
    Column("message_hash", String(64), nullable=False),
    Column("filename", Text, nullable=False),  # sealed (base64) when `key_id` is set
    Column("content_type", String(127), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),  # sealed when `key_id` is set
    Column("stored_at", UtcDateTime, nullable=False),
    Column("key_id", String(16)),  # the key that sealed filename and content; null: in clear
)

# Console sessions signed out before they expire (revision 0007), so that a cookie copied before
# sign-out is refused by every API process, and after a restart: one row per session, by the SHA-256
# of its nonce (nothing a cookie or a form is made of), until the session would have expired; rows
# past their expiry are deleted at each sign-out (adapters.console_sessions).
console_sessions_revoked = Table(
    "console_sessions_revoked",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Case reply addresses (revision 0008): the token of each `case+<token>@<reply domain>` casework has
# sent (support.messaging.reply_addresses.reply_token), written by the delivery activity before the mail goes
# out
# and read by every inbound listener to find the case a reply is for. The tenant is the one the case
# id names ('' for ids of before tenants).
reply_addresses = Table(
    "reply_addresses",
    metadata,
    Column("token", String(26), primary_key=True),
    Column("case_id", String(200), nullable=False, index=True),
    Column("tenant_id", String(63), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Bounce addresses (revision 0013): the envelope sender `bounce+<token>@<reply domain>` of each
# notification mailed to the customer's side (support.messaging.reply_addresses.bounce_token, a keyed digest
# of
# the notification id), recorded by the delivery activity before the mail goes out; a delivery status
# notification to it marks the notification failed once (`bounced_at`, the server's text).
bounce_addresses = Table(
    "bounce_addresses",
    metadata,
    Column("token", String(26), primary_key=True),
    Column("notification_id", String(300), nullable=False),
    Column("case_id", String(200), nullable=False, index=True),
    Column("event", String(80), nullable=False),
    Column("audience", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("bounced_at", UtcDateTime, nullable=True),
    Column("bounce_detail", String(400), nullable=True),
)

# Held mail (revision 0009): a reply to a case that may be a robot's or a person's (a mailing list's
# headers, say: support.messaging.reply_addresses.mail_kind), kept whole until an operator releases it onto
# its
# case (`starter.py mail release`) or lets it be. `content` is the raw mail, sealed with the key ring
# (CASEWORK_ENCRYPTION_KEY, adapters.codec) when it is set, bound to its case and mail, and `key_id`
# names its key (null: in clear); `sender` is masked. One row a mail and case (the same mail again
# is the same row).
mail_quarantine = Table(
    "mail_quarantine",
    metadata,
    Column("quarantine_id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(200), nullable=False, index=True),
    Column("tenant_id", String(63), nullable=False),
    Column("message_hash", String(64), nullable=False),
    Column("sender", String(254), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("released_at", UtcDateTime),
    Column("outcome", String(300)),
    Column("key_id", String(16)),  # the key that sealed `content`; null: in clear
    UniqueConstraint("case_id", "message_hash", name="uq_mail_quarantine_mail"),
)

# Case numbers (revision 0012): the serial of each case's number (`CW-<10000 + serial>`,
# support.case.numbers), allocated by the intake before the case's workflow starts, one row per
# case id (the same opening again finds its row).
case_numbers = Table(
    "case_numbers",
    metadata,
    Column("serial", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(200), nullable=False, unique=True),
    Column("tenant_id", String(63), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,  # a serial is never handed out again, even after its row is gone
)

# The case's thread (revision 0011): each message after the description, written once by the
# thread activity (activities/thread.py) under the case's own number for it (`seq`). Who wrote
# it, its text and its attachments' names are one JSON value, `sealed` with the key ring when one is
# set (bound to its case and seq; `key_id` names the key, null: in clear); the other columns are
# what paging and the staff-only rule need.
case_messages = Table(
    "case_messages",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("tenant_id", String(63), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("role", String(16), nullable=False),
    Column("via", String(16), nullable=False),
    Column("internal", Boolean, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("written_at", UtcDateTime, nullable=False),
    Column("key_id", String(16)),  # the key that sealed `sealed`; null: in clear
)

# The console's projection of every case (revision 0015, adapters.console_cases): one row per
# case, written by the intake from the view each open, action and read of the case answers with, so
# the queue's views, counts, pages and the dashboard are indexed SQL instead of a scan of Temporal's
# visibility and a query to each case. `title` is sealed like the thread (base64, `key_id`). The
# search index (`case_search`: SQLite FTS5 / PostgreSQL tsvector of keyed MACs) is made by the same
# revision in each dialect's own DDL and is not part of this model.
console_cases = Table(
    "console_cases",
    metadata,
    Column("case_id", String(200), primary_key=True),
    Column("case_number", String(32), index=True),
    Column("tenant_id", String(63), nullable=False, index=True),
    Column("status", String(32), nullable=False, index=True),
    Column("severity", String(1)),
    Column("category", String(16), nullable=False),
    Column("assignee", String(200), index=True),
    Column("next_deadline", UtcDateTime, index=True),  # none while no clock runs (paused)
    Column("clock", String(32)),  # the clock whose deadline `next_deadline` is
    Column("first_response_at", UtcDateTime),
    Column("first_response_met", Boolean),  # null until answered
    Column("breached", Boolean, nullable=False),
    Column("breached_at", UtcDateTime),  # the latest breach the case saw
    Column("paused", Boolean, nullable=False),
    Column("opened_at", UtcDateTime),
    Column("resolved_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("time_zone", String(64)),
    Column("title", Text, nullable=False),  # sealed (base64) when `key_id` is set
    Column("key_id", String(16)),
    Column("projected_at", UtcDateTime, nullable=False),
    # revision 0017: what reports count of a running case (adapters.reports_store)
    Column("first_response_due", UtcDateTime),
    Column("first_response_business_s", Float),
    Column("reopened_at", JSON),  # when each reopen happened (instants, ISO 8601); null: not projected since
    Column("last_reopened_at", UtcDateTime, index=True),  # the latest of them: which rows a window reads
)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The hand-written migrations' versions and the Alembic revision that reproduces each exactly.
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003"}
# The key of the PostgreSQL advisory lock that lets one process at a time migrate (any constant
# shared by every casework process: "casework" in ASCII, as a bigint).
MIGRATION_LOCK = int.from_bytes(b"casework", "big") >> 1


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code (no alembic.ini): the package's migrations folder,
    and the connection env.py runs the revisions on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")  # a module name mypy can check
    config.attributes["connection"] = connection
    return config


def legacy_revision(connection: Connection) -> str | None:
    """The revision a database made by the hand-written migrations is at, or None when Alembic
    already keeps its version (or the database is new)."""
    names = set(inspect(connection).get_table_names())
    if "alembic_version" in names or schema_version.name not in names:
        return None
    version = connection.execute(select(func.max(schema_version.c.version))).scalar()
    if version is None:
        return None
    if version not in LEGACY_REVISIONS:
        raise RuntimeError(f"schema_version {version} was never made by casework: no Alembic revision for it")
    return LEGACY_REVISIONS[version]


def current_revision(connection: Connection) -> str | None:
    """The revision Alembic recorded (None before Alembic, or in a new database)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no Alembic revision in {MIGRATIONS_DIR}"
    return head


def migrate(engine: Engine) -> str:
    """Bring the schema to the latest revision; returns the revision it is at.

    One transaction, and one process at a time: on PostgreSQL under an advisory lock (its DDL is
    transactional, so a failed upgrade leaves nothing behind), on SQLite under the write lock taken
    at BEGIN IMMEDIATE. A process that waited finds the schema at the latest revision and does
    nothing; one that finds it there at once takes no lock.
    """
    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return head
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config = alembic_config(connection)
        stamp = legacy_revision(connection)
        if stamp is not None:
            command.stamp(config, stamp)
        command.upgrade(config, "head")
        revision = current_revision(connection)
    assert revision == head, f"upgraded to {revision}, not to the latest revision {head}"
    return revision

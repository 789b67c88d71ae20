"""The schema's migrations: Alembic revisions shipped in the package, and databases from before them.

Databases made by the hand-written migrations (a `schema_version` table, versions 1-3) are built
two ways: SQLite files written by that code itself (tests/data/, see its README), and, on both
SQLite and PostgreSQL, by a frozen copy of that code below (`legacy_migrate`). Either is upgraded in
place by `migrate` and keeps its rows. Every test that takes `database_url` runs on SQLite and on a
real PostgreSQL server (tests/postgres.py).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
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
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)

from adapters.database import open_database
from adapters.directory_store import DirectoryStore
from adapters.schema import (
    LEGACY_REVISIONS,
    alembic_config,
    closed_cases,
    current_revision,
    deliveries,
    head_revision,
    metadata,
    migrate,
    schema_version,
    verification_failures,
)
from adapters.settings import Settings

DATA = Path(__file__).parents[1] / "data"
AT = datetime(2026, 11, 20, 3, 4, 5, tzinfo=UTC)


# The hand-written migrations as casework ran them until Alembic (activities/schema.py at commit
# 53fdea8), frozen here: they build the databases that older releases left behind.
_legacy = MetaData()
_legacy_versions = Table(
    "schema_version",
    _legacy,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)
_legacy_tenants = Table(  # as version 1 made it; version 2 adds account_manager_email
    "tenants",
    _legacy,
    Column("tenant_id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("agreement", String(16), nullable=False),
    Column("purchase_channel", String(16), nullable=False),
    Column("partner_name", String(200)),
    Column("partner_contact", String(254)),
)
_legacy_users = Table(
    "tenant_users",
    _legacy,
    Column("tenant_id", String(63), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
    Column("sign_in", String(200), primary_key=True),
    Column("is_admin", Boolean, nullable=False),
)
_legacy_contacts = Table(
    "tenant_contacts",
    _legacy,
    Column("tenant_id", String(63), ForeignKey("tenants.tenant_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("value", String(254), primary_key=True),
)
_legacy_incidents = Table(
    "service_incidents",
    _legacy,
    Column("incident_id", String(64), primary_key=True),
    Column("service", String(64), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)
_legacy_deliveries = Table(
    "notification_deliveries",
    _legacy,
    Column("notification_id", String(300), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("case_id", String(80), nullable=False, index=True),
    Column("event", String(80), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
_legacy_failures = Table(
    "verification_failures",
    _legacy,
    Column("tenant_id", String(63), primary_key=True),
    Column("caller_mac", String(64), primary_key=True),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False),
)


def _v1_directory(connection: Connection) -> None:
    _legacy.create_all(
        connection, tables=[_legacy_tenants, _legacy_users, _legacy_contacts, _legacy_incidents]
    )


def _v2_deliveries_and_account_managers(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE tenants ADD COLUMN account_manager_email VARCHAR(254)"))
    _legacy.create_all(connection, tables=[_legacy_deliveries])


def _v3_verification_failures(connection: Connection) -> None:
    _legacy.create_all(connection, tables=[_legacy_failures])


LEGACY_MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_directory,
    _v2_deliveries_and_account_managers,
    _v3_verification_failures,
]


def legacy_migrate(engine: Engine, up_to: int) -> None:
    """What the old `migrate(engine)` did, stopped at schema version `up_to`."""
    _legacy.create_all(engine, tables=[_legacy_versions])
    for number, migration in enumerate(LEGACY_MIGRATIONS[:up_to], start=1):
        with engine.begin() as connection:
            migration(connection)
            connection.execute(insert(_legacy_versions).values(version=number, applied_at=datetime.now(UTC)))


def engine_for(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    (tmp_path / "var").mkdir(exist_ok=True)
    engine = engine_for(database_url)
    yield engine
    engine.dispose()


def _not_the_legacy_record(name: str | None, kind: str, _parent: object) -> bool:
    if kind == "table" and name is not None and name.startswith("case_search"):
        return False  # the search index (FTS5 and its shadow tables; tsvector): dialect DDL, no model
    return not (kind == "table" and name == "schema_version")  # kept as it was on older databases


def schema_differences(engine: Engine) -> list[object]:
    """What differs between the database's schema and today's model (adapters.schema.metadata)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _not_the_legacy_record}
        )
        differences: list[object] = compare_metadata(context, metadata)
    return differences


def write_legacy_rows(engine: Engine, version: int) -> None:
    """Rows in every table a version-`version` database has, as the old code wrote them."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenants (tenant_id, name, country, time_zone, agreement, purchase_channel)"
                " VALUES ('old', 'Old Ltd', 'DE', 'Europe/Berlin', 'premium', 'direct')"
            )
        )
        connection.execute(
            insert(_legacy_users).values(tenant_id="old", sign_in="admin@old.example", is_admin=True)
        )
        connection.execute(insert(_legacy_contacts).values(tenant_id="old", kind="phone", value="+4930555"))
        if version >= 2:
            connection.execute(text("UPDATE tenants SET account_manager_email = 'am@old.example'"))
            connection.execute(
                insert(_legacy_deliveries).values(
                    notification_id="case-old.r1/opened/1/customer",
                    channel="email",
                    case_id="case-old.r1",
                    event="opened",
                    status="sent",
                    recorded_at=AT,
                )
            )
        if version >= 3:
            connection.execute(
                insert(_legacy_failures).values(
                    tenant_id="old", caller_mac="ab" * 32, window_started_at=AT, failures=2
                )
            )


def test_a_new_database_goes_straight_to_the_latest_revision(engine: Engine) -> None:
    assert migrate(engine) == head_revision() == "0017"
    assert schema_differences(engine) == [], "the revisions build exactly today's model"
    names = set(inspect(engine).get_table_names())
    assert {"closed_cases", "alembic_version", "tenants", "verification_failures"} <= names
    assert {"inbound_messages", "attachments", "console_sessions_revoked"} <= names
    assert "schema_version" not in names, "only databases from before Alembic have it"
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()


def test_a_second_upgrade_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO tenants VALUES ('t', 'T', 'DE', 'UTC', 'standard', 'direct', NULL, NULL, NULL)")
        )
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert migrate(engine) == head_revision()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    changes = [
        s
        for s in statements
        if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT", "UPDATE"))
    ]
    assert changes == [], "nothing is written when the schema is at the latest revision"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tenants")).scalar() == 1


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_database_from_the_hand_written_migrations_is_upgraded_in_place(
    engine: Engine, version: int
) -> None:
    legacy_migrate(engine, version)
    write_legacy_rows(engine, version)
    with engine.connect() as connection:
        assert current_revision(connection) is None
    assert migrate(engine) == head_revision()
    assert schema_differences(engine) == [], "an upgraded database has the schema a new one has"
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        assert connection.execute(select(closed_cases.c.case_id)).all() == [], "closed_cases exists"
        kept = connection.execute(select(schema_version.c.version)).scalars().all()
        assert sorted(kept) == list(range(1, version + 1)), "schema_version is kept as it was"
        if version >= 2:
            row = connection.execute(select(deliveries)).one()
            assert row.case_id == "case-old.r1" and row.status == "sent"
        if version >= 3:
            failures = connection.execute(select(verification_failures)).one()
            assert failures.failures == 2 and failures.caller_mac == "ab" * 32
    store = DirectoryStore(engine)
    old = store.tenant("old")
    assert old is not None and old.name == "Old Ltd"
    assert old.account_manager_email == ("am@old.example" if version >= 2 else None)
    assert store.is_admin("old", "admin@old.example")
    assert store.registered("old", "phone") == ["+4930555"]
    assert migrate(engine) == head_revision(), "and a second upgrade changes nothing"


@pytest.fixture
def other_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second empty database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    with request.getfixturevalue("postgres_server").fresh_database() as url:
        yield url


@pytest.mark.parametrize("version", [1, 2, 3])
def test_each_legacy_version_is_stamped_with_the_revision_that_reproduces_it(
    engine: Engine, other_url: str, version: int
) -> None:
    """Version n of the hand-written migrations and Alembic's revision for it make the same schema."""
    legacy_migrate(engine, version)
    with engine.connect() as connection:
        made_by_hand = _describe(connection)
    revision = LEGACY_REVISIONS[version]
    other = engine_for(other_url)
    try:
        with other.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
        with other.connect() as connection:
            made_by_alembic = _describe(connection)
    finally:
        other.dispose()
    made_by_hand.pop("schema_version")
    made_by_alembic.pop("alembic_version")
    assert made_by_alembic == made_by_hand, f"revision {revision} is schema version {version}"


def _describe(connection: Connection) -> dict[str, object]:
    """A table-by-table description of a schema: columns (type, nullable), keys and indexes."""
    inspector = inspect(connection)
    described: dict[str, object] = {}
    for table in inspector.get_table_names():
        described[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                for f in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"]) for i in inspector.get_indexes(table)
            ),
        }
    return described


@pytest.mark.parametrize("version", [2, 3])
def test_a_sqlite_database_written_by_the_old_code_is_upgraded_by_open_database(
    tmp_path: Path, version: int
) -> None:
    """The files in tests/data/ were written by the hand-written migrations themselves."""
    var = tmp_path / "var"
    var.mkdir()
    shutil.copyfile(DATA / f"casework-v{version}.sqlite", var / "casework.db")
    engine = open_database(Settings(var_dir=var))
    try:
        assert schema_differences(engine) == []
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
            versions = connection.execute(select(schema_version.c.version)).scalars().all()
            assert sorted(versions) == list(range(1, version + 1))
            ledger = connection.execute(select(deliveries.c.case_id, deliveries.c.status)).all()
            assert ledger == [("case-contoso.legacy-1", "sent")]
            failures = connection.execute(select(verification_failures.c.failures)).scalars().all()
            assert failures == ([2] if version >= 3 else [])
            assert connection.execute(select(closed_cases)).all() == []
        store = DirectoryStore(engine)
        contoso = store.tenant("contoso")
        assert contoso is not None and contoso.account_manager_email == "am.contoso@casework.example"
        assert store.is_admin("contoso", "admin@contoso.example")
        assert store.active_incident("teams", datetime(2026, 11, 24, tzinfo=UTC)) is not None
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_once(database_url: str, tmp_path: Path) -> None:
    """Workers started at the same moment on one new database: one migrates, the others wait and
    find the schema at the latest revision (SQLite: write lock; PostgreSQL: advisory lock)."""
    (tmp_path / "var").mkdir()
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def start_a_process() -> None:
        engine = open_database_engine(database_url)
        try:
            start.wait()
            results.append(migrate(engine))
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start_a_process) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [head_revision()] * 4


def open_database_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30})
    return engine_for(url)


def test_the_revisions_go_down_and_up_again(engine: Engine) -> None:
    legacy_migrate(engine, 3)
    write_legacy_rows(engine, 3)
    migrate(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
    with engine.connect() as connection:
        assert current_revision(connection) == "0003"
        assert "closed_cases" not in inspect(connection).get_table_names()
    assert migrate(engine) == head_revision()
    assert DirectoryStore(engine).tenant("old") is not None


def test_a_case_id_of_the_longest_form_fits_the_delivery_ledger(engine: Engine) -> None:
    """case-<63-character tenant>.<64-character request>: 133 characters (PostgreSQL enforces it)."""
    migrate(engine)
    case_id = f"case-{'t' * 63}.{'r' * 64}"
    with engine.begin() as connection:
        connection.execute(
            insert(deliveries).values(
                notification_id=f"{case_id}/opened/1/customer",
                channel="email",
                case_id=case_id,
                event="opened",
                status="sent",
                recorded_at=AT,
            )
        )
        assert connection.execute(select(deliveries.c.case_id)).scalar() == case_id

"""The directory database: migrations, idempotent all-or-nothing import, reads.

Every test that takes `database_url` runs twice: on SQLite and on a real PostgreSQL server
(tests/postgres.py), each in a fresh database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from adapters.database import open_database
from adapters.directory_store import DirectoryStore, import_directory
from adapters.schema import tenant_users
from adapters.settings import PROJECT_ROOT, Settings
from bootstrap.cli import main
from interfaces.cli.main import EXIT_INVALID
from support.identity.directory import DirectoryError, parse_directory_file
from support.identity.tenant import PurchaseChannel
from support.policies.vocabulary import Agreement

DEMO = PROJECT_ROOT / "directory.toml"


def settings_for(tmp_path: Path, url: str) -> Settings:
    return Settings(var_dir=tmp_path / "var", database_url=url)


# The migrations (Alembic, and databases made before it) are tested in tests/system/test_migrations.py.


def test_import_is_idempotent_and_reads_back(tmp_path: Path, database_url: str) -> None:
    engine = open_database(settings_for(tmp_path, database_url))
    directory = parse_directory_file(DEMO.read_text(), str(DEMO))
    assert import_directory(engine, directory) == {"tenants": 3, "incidents": 1}
    assert import_directory(engine, directory) == {"tenants": 3, "incidents": 1}
    store = DirectoryStore(engine)
    contoso = store.tenant("contoso")
    assert (
        contoso is not None
        and contoso.agreement is Agreement.PREMIUM
        and contoso.time_zone == "Asia/Shanghai"
        and contoso.account_manager_email == "am.contoso@casework.example"
    )
    northwind = store.tenant("northwind")
    assert northwind is not None and northwind.purchase_channel is PurchaseChannel.PARTNER
    assert northwind.partner_name == "Litware Partners"
    assert store.is_admin("contoso", "Admin@Contoso.example"), "sign-in names compare case-insensitively"
    assert not store.is_admin("contoso", "staff@contoso.example")
    assert store.registered("contoso", "phone") == ["+862155550100"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tenant_users)).scalar() == 4
    incident = store.active_incident("teams", datetime(2026, 11, 24, tzinfo=UTC))
    assert incident is not None and incident.incident_id == "INC-2026-0042"
    assert store.active_incident("teams", datetime(2026, 10, 1, tzinfo=UTC)) is None, "not yet started"
    assert store.active_incident("exchange", datetime(2026, 11, 24, tzinfo=UTC)) is None
    engine.dispose()


def test_incident_times_are_instants_whatever_the_servers_time_zone(
    tmp_path: Path, database_url: str
) -> None:
    """The PostgreSQL test server runs in Pacific/Chatham: a time read back is the same instant."""
    engine = open_database(settings_for(tmp_path, database_url))
    directory = parse_directory_file(DEMO.read_text(), str(DEMO))
    import_directory(engine, directory)
    started = directory.incidents[0].started_at
    assert started == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    store = DirectoryStore(engine)
    assert store.active_incident("teams", started - timedelta(seconds=1)) is None
    incident = store.active_incident("teams", started)
    assert incident is not None and incident.started_at == started
    engine.dispose()


def test_reimport_replaces_a_tenants_people_and_resolves_incidents(tmp_path: Path, database_url: str) -> None:
    engine = open_database(settings_for(tmp_path, database_url))
    import_directory(engine, parse_directory_file(DEMO.read_text(), str(DEMO)))
    changed = DEMO.read_text().replace(
        'admins = ["admin@contoso.example"]', 'admins = ["new-admin@contoso.example"]'
    )
    changed += "\nresolved_at = 2026-11-20T00:00:00Z\n"
    import_directory(engine, parse_directory_file(changed, "changed.toml"))
    store = DirectoryStore(engine)
    assert store.is_admin("contoso", "new-admin@contoso.example")
    assert not store.is_admin("contoso", "admin@contoso.example")
    assert store.active_incident("teams", datetime(2026, 11, 19, tzinfo=UTC)) is not None
    assert store.active_incident("teams", datetime(2026, 11, 24, tzinfo=UTC)) is None
    engine.dispose()


def test_a_bad_file_names_the_entry_and_field_and_writes_nothing(tmp_path: Path, database_url: str) -> None:
    bad = {
        "tenants": {
            "good": {"name": "Good Ltd", "admins": ["a@good.example"]},
            "bad": {"name": "Bad Ltd", "agreement": "gold", "time_zone": "Mars/Base"},
        }
    }
    with pytest.raises(DirectoryError) as error:
        parse_directory_file(json.dumps(bad), "bad.json")
    assert "tenants.bad.agreement" in str(error.value)
    engine = open_database(settings_for(tmp_path, database_url))
    assert DirectoryStore(engine).tenant("good") is None
    engine.dispose()


def test_an_import_that_fails_in_the_database_leaves_it_as_it_was(tmp_path: Path, database_url: str) -> None:
    """All or nothing: the tenants written before the failure are rolled back with it."""
    engine = open_database(settings_for(tmp_path, database_url))
    import_directory(engine, parse_directory_file(DEMO.read_text(), str(DEMO)))
    changed = DEMO.read_text().replace('"admin@contoso.example"', '"other-admin@contoso.example"')
    changed = changed.replace("Fabrikam Kft.", "Fabrikam Renamed Kft.")

    def fail_on_incidents(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "service_incidents" in statement and statement.lstrip().upper().startswith("UPDATE"):
            raise RuntimeError("the database failed half-way")

    event.listen(engine, "before_cursor_execute", fail_on_incidents)
    with pytest.raises(RuntimeError, match="half-way"):
        import_directory(engine, parse_directory_file(changed, "changed.toml"))
    event.remove(engine, "before_cursor_execute", fail_on_incidents)
    store = DirectoryStore(engine)
    assert store.is_admin("contoso", "admin@contoso.example"), "the tenants written before were rolled back"
    assert not store.is_admin("contoso", "other-admin@contoso.example")
    fabrikam = store.tenant("fabrikam")
    assert fabrikam is not None and fabrikam.name == "Fabrikam Kft."
    engine.dispose()


def test_cli_import_then_errors_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("CASEWORK_VAR", str(tmp_path / "var"))
    if database_url.startswith("sqlite"):
        monkeypatch.delenv("DATABASE_URL", raising=False)  # the default: var/casework.db
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["directory", "import", str(DEMO)]) == 0
    assert json.loads(capsys.readouterr().out)["imported"] == {"tenants": 3, "incidents": 1}
    engine = open_database(settings_for(tmp_path, database_url))
    assert DirectoryStore(engine).is_admin("contoso", "admin@contoso.example"), "written where the URL says"
    engine.dispose()
    broken = tmp_path / "broken.toml"
    broken.write_text('[tenants.x]\nname = "X"\nregistered_phones = ["12345"]\n')
    assert main(["directory", "import", str(broken)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "registered_phones" in err and "international form" in err and "Traceback" not in err

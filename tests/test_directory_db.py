"""The directory database: migrations, idempotent all-or-nothing import, reads; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from activities.directory_store import DirectoryStore, import_directory
from activities.schema import MIGRATIONS, migrate, schema_version, tenant_users
from intake.cli import EXIT_INVALID, main
from service.database import open_database
from service.settings import PROJECT_ROOT, Settings
from support.directory import DirectoryError, parse_directory_file
from support.tenant import PurchaseChannel
from support.vocabulary import Agreement

DEMO = PROJECT_ROOT / "directory.toml"


def settings_for(tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(var_dir=tmp_path / "var", database_url=url)


def demo() -> object:
    return parse_directory_file(DEMO.read_text(), str(DEMO))


def test_migration_creates_the_schema_once_and_records_the_version(tmp_path: Path) -> None:
    engine = open_database(settings_for(tmp_path))
    assert migrate(engine) == len(MIGRATIONS), "a second run is a no-op at the latest version"
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(schema_version)).scalar() == len(
            MIGRATIONS
        )


def test_import_is_idempotent_and_reads_back(tmp_path: Path) -> None:
    engine = open_database(settings_for(tmp_path))
    directory = parse_directory_file(DEMO.read_text(), str(DEMO))
    import_directory(engine, directory)
    import_directory(engine, directory)
    store = DirectoryStore(engine)
    contoso = store.tenant("contoso")
    assert (
        contoso is not None
        and contoso.agreement is Agreement.PREMIUM
        and contoso.time_zone == "Asia/Shanghai"
    )
    northwind = store.tenant("northwind")
    assert northwind is not None and northwind.purchase_channel is PurchaseChannel.PARTNER
    assert store.is_admin("contoso", "Admin@Contoso.example"), "sign-in names compare case-insensitively"
    assert not store.is_admin("contoso", "staff@contoso.example")
    assert store.registered("contoso", "phone") == ["+862155550100"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tenant_users)).scalar() == 4
    incident = store.active_incident("teams", datetime(2026, 11, 24, tzinfo=UTC))
    assert incident is not None and incident.incident_id == "INC-2026-0042"
    assert store.active_incident("teams", datetime(2026, 10, 1, tzinfo=UTC)) is None, "not yet started"
    assert store.active_incident("exchange", datetime(2026, 11, 24, tzinfo=UTC)) is None


def test_reimport_replaces_a_tenants_people_and_resolves_incidents(tmp_path: Path) -> None:
    engine = open_database(settings_for(tmp_path))
    import_directory(engine, parse_directory_file(DEMO.read_text(), str(DEMO)))
    changed = DEMO.read_text().replace(
        'admins = ["admin@contoso.example"]', 'admins = ["new-admin@contoso.example"]'
    )
    changed += "\nresolved_at = 2026-11-20T00:00:00Z\n"
    import_directory(engine, parse_directory_file(changed, "changed.toml"))
    store = DirectoryStore(engine)
    assert store.is_admin("contoso", "new-admin@contoso.example")
    assert not store.is_admin("contoso", "admin@contoso.example")
    assert store.active_incident("teams", datetime(2026, 11, 24, tzinfo=UTC)) is None


def test_a_bad_file_names_the_entry_and_field_and_writes_nothing(tmp_path: Path) -> None:
    bad = {
        "tenants": {
            "good": {"name": "Good Ltd", "admins": ["a@good.example"]},
            "bad": {"name": "Bad Ltd", "agreement": "gold", "time_zone": "Mars/Base"},
        }
    }
    with pytest.raises(DirectoryError) as error:
        parse_directory_file(json.dumps(bad), "bad.json")
    assert "tenants.bad.agreement" in str(error.value)
    engine = open_database(settings_for(tmp_path))
    assert DirectoryStore(engine).tenant("good") is None


def test_cli_import_then_errors_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["directory", "import", str(DEMO)]) == 0
    assert json.loads(capsys.readouterr().out)["imported"] == {"tenants": 3, "incidents": 1}
    broken = tmp_path / "broken.toml"
    broken.write_text('[tenants.x]\nname = "X"\nregistered_phones = ["12345"]\n')
    assert main(["directory", "import", str(broken)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "registered_phones" in err and "international form" in err and "Traceback" not in err


def _postgres_url() -> str | None:
    url = os.environ.get("CASEWORK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    host_port = url.rsplit("@", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 5432)), timeout=0.5):
            return url
    except OSError:
        return None


@pytest.mark.skipif(
    _postgres_url() is None, reason="no PostgreSQL server reachable (set CASEWORK_TEST_POSTGRES_URL)"
)
def test_the_same_code_on_postgresql(tmp_path: Path) -> None:
    url = _postgres_url()
    assert url is not None
    engine = open_database(settings_for(tmp_path, url))
    import_directory(engine, parse_directory_file(DEMO.read_text(), str(DEMO)))
    store = DirectoryStore(engine)
    assert store.is_admin("contoso", "admin@contoso.example")
    assert store.active_incident("teams", datetime(2026, 11, 24, tzinfo=UTC)) is not None

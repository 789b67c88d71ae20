"""The delivery ledger on SQLite and PostgreSQL (tests/postgres.py): what went out, on which channel."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger
from adapters.schema import deliveries
from adapters.settings import Settings


def _instant(value: object) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL an aware time in the server's zone: the same instant."""
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_a_failure_then_a_success_is_one_row_that_says_sent(tmp_path: Path, database_url: str) -> None:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    ledger = DeliveryLedger(engine)
    before = datetime.now(UTC)
    try:
        assert ledger.delivered("case-1:ack") is None
        ledger.record("case-1:ack", "case-1", "acknowledgement", "email", "failed", "SMTP down")
        assert ledger.delivered("case-1:ack") is None, "a failure is not a delivery"
        ledger.record("case-1:ack", "case-1", "acknowledgement", "email", "sent", "250 OK " + "x" * 5000)
        assert ledger.delivered("case-1:ack") == "email"
        ledger.record("case-1:ack", "case-1", "acknowledgement", "webhook", "sent", "200")
        ledger.record("case-2:ack", "case-2", "acknowledgement", "email", "sent", "250 OK")
        rows = ledger.for_case("case-1")
        assert [(r["channel"], r["status"]) for r in rows] == [("email", "sent"), ("webhook", "sent")]
        assert len(str(rows[0]["detail"])) == 2000, "details are cut to 2000 characters"
        recorded = [_instant(r["recorded_at"]) for r in rows]
        assert recorded == sorted(recorded), "in the order recorded"
        assert before - timedelta(seconds=5) <= recorded[0] <= datetime.now(UTC) + timedelta(seconds=5)
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(deliveries)).scalar() == 3
    finally:
        engine.dispose()


def test_two_engines_share_one_ledger(tmp_path: Path, database_url: str) -> None:
    """Two workers on one database: what one recorded, the other sees (SQLite: one file; PostgreSQL)."""
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    first, second = open_database(settings), open_database(settings)
    try:
        DeliveryLedger(first).record("case-9:breach", "case-9", "breach", "email", "sent", "250 OK")
        assert DeliveryLedger(second).delivered("case-9:breach") == "email"
        assert [r["notification_id"] for r in DeliveryLedger(second).for_case("case-9")] == ["case-9:breach"]
    finally:
        first.dispose()
        second.dispose()


def test_two_workers_record_the_same_delivery_at_once(tmp_path: Path, database_url: str) -> None:
    """Several workers on one database: recording one delivery at the same moment never collides,
    and a "sent" row stays sent."""
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    engines = [open_database(settings) for _ in range(2)]
    errors: list[BaseException] = []
    try:
        for i in range(30):
            barrier = threading.Barrier(2)

            def record(engine: Engine, i: int = i, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    DeliveryLedger(engine).record(f"n-{i}", "case-1", "ack", "email", "sent", "250 OK")
                except Exception as error:  # collected, asserted below
                    errors.append(error)

            threads = [threading.Thread(target=record, args=(e,)) for e in engines]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert not errors, f"{len(errors)} of 30 collided: {errors[0]!r}"
        ledger = DeliveryLedger(engines[0])
        assert len(ledger.for_case("case-1")) == 30
        ledger.record("n-0", "case-1", "ack", "email", "failed", "a late failure of another attempt")
        assert ledger.delivered("n-0") == "email", "a sent delivery stays sent"
    finally:
        for engine in engines:
            engine.dispose()

"""Case numbers on SQLite and PostgreSQL (tests/postgres.py): allocated by case id, so the same
opening (or a retried start) gets the number it got; unique across intakes allocating at once
(one engine each, as separate processes); read back by number, and by the page of a listing."""

from __future__ import annotations

import threading
from pathlib import Path

from adapters.case_numbers import CaseNumbers
from adapters.database import open_database
from adapters.settings import Settings
from support.case.numbers import case_number, case_ref, serial_of


def test_numbers_are_per_case_idempotent_and_unique_across_intakes(tmp_path: Path, database_url: str) -> None:
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    engines = [open_database(settings) for _ in range(4)]
    try:
        first = CaseNumbers(engines[0])
        number = first.allocate("case-contoso.r-1", "contoso")
        assert number == "CW-10001"
        assert CaseNumbers(engines[1]).allocate("case-contoso.r-1", "contoso") == number, "the same opening"
        got: dict[str, str] = {}

        def allocate(engine_index: int, n: int) -> None:
            case_id = f"case-contoso.many-{n}"
            got[case_id] = CaseNumbers(engines[engine_index]).allocate(case_id, "contoso")

        threads = [threading.Thread(target=allocate, args=(n % 4, n)) for n in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(got.values())) == 40 and number not in got.values()
        for case_id, allocated in got.items():
            assert CaseNumbers(engines[2]).case_for(allocated) == case_id
            assert CaseNumbers(engines[3]).case_for(allocated.lower().replace("-", "")) == case_id
        assert first.case_for("CW-99999") is None and first.case_for("case-contoso.r-1") is None
        assert first.numbers_of(["case-contoso.r-1", "case-contoso.before-numbers"]) == {
            "case-contoso.r-1": number
        }
    finally:
        for engine in engines:
            engine.dispose()


def test_a_number_is_written_and_read_back() -> None:
    assert case_number(482) == "CW-10482" and serial_of("CW-10482") == 482
    assert serial_of(" cw-10482 ") == 482 and serial_of("CW10482") == 482
    assert serial_of("case-contoso.r-1") is None and serial_of("CW-00001") is None
    assert serial_of("CW-10000") is None, "no serial 0"
    assert case_ref("case-contoso.r-1", None) == "case-contoso.r-1"
    assert case_ref("case-contoso.r-1", "CW-10001") == "CW-10001"

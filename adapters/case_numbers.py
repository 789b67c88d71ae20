"""Case numbers in the database every intake shares (`support.case.numbers` writes them).

`allocate` runs before the case's workflow is started, keyed by the case id (an insert that does
nothing when the row exists, then a read): the same opening sent again, or retried after a start
that failed, gets the number it got the first time, and a number allocated for a case whose start
never happened stays its number when the start is tried again. Serials come from the database
(SQLite's AUTOINCREMENT, PostgreSQL's sequence), so two intakes never hand out the same one. Each
call is one short transaction; async callers run it in a thread.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from adapters.delivery_ledger import dialect_insert
from adapters.schema import case_numbers
from support.case.numbers import BASE, case_number, serial_of


class CaseNumbers:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def allocate(self, case_id: str, tenant_id: str) -> str:
        """The case's number: the one it has, or a new one."""
        with self._engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            connection.execute(
                insert(case_numbers)
                .values(case_id=case_id, tenant_id=tenant_id, created_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=[case_numbers.c.case_id])
            )
            serial = connection.execute(
                select(case_numbers.c.serial).where(case_numbers.c.case_id == case_id)
            ).scalar_one()
        return case_number(serial)

    def case_for(self, number: str) -> str | None:
        """The case id a number stands for, or None (not a number, or no case has it)."""
        serial = serial_of(number)
        if serial is None:
            return None
        with self._engine.connect() as connection:
            row = connection.execute(
                select(case_numbers.c.case_id).where(case_numbers.c.serial == serial)
            ).first()
        return row[0] if row else None

    def numbers_of(self, case_ids: Collection[str]) -> dict[str, str]:
        """The numbers of those of `case_ids` that have one (a page of a listing: one query)."""
        if not case_ids:
            return {}
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(case_numbers.c.case_id, case_numbers.c.serial).where(
                    case_numbers.c.case_id.in_(list(case_ids))
                )
            ).all()
        return {case_id: case_number(serial) for case_id, serial in rows}


__all__ = ["BASE", "CaseNumbers"]

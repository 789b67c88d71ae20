"""The archive activity: the case's final view becomes its closed_cases row (adapters/closed_cases.py),
its record sealed with the encryption key when one is set."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity

from adapters.closed_cases import store_closed_case
from adapters.codec import KeyRing
from support.reporting.closed_case import CaseArchive, closed_case_row
from support.sla_clocks.ledger import SlaBasis, ledger_of


class ArchiveActivities:
    def __init__(self, engine: Engine, keys: KeyRing | None = None) -> None:
        """`keys`: the record (internal notes, the thread) is sealed with them (None: in clear)."""
        self._engine = engine
        self._keys = keys

    @activity.defn(name="archive_case")
    async def archive_case(self, case: CaseArchive) -> str:
        """`case`: the final view; from workers that hand it over, with the policy snapshot and the
        tenant's zone, so the row keeps who held each SLA clock (an older payload: a bare view)."""
        now = datetime.now(UTC)
        ledger = None
        if (
            isinstance(case, CaseArchive)
            and case.sla_policy is not None
            and case.tenant_time_zone is not None
        ):
            basis = SlaBasis(view=case, policy=case.sla_policy, tenant_time_zone=case.tenant_time_zone)
            ledger = ledger_of(basis, now)
        row = closed_case_row(case, archived_at=now, ledger=ledger)
        await asyncio.to_thread(store_closed_case, self._engine, row, self._keys)
        activity.logger.info("case archived", extra={"case_id": case.case_id, "status": case.status.value})
        return case.case_id

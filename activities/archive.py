"""The archive activity: the case's final view becomes its closed_cases row (adapters/closed_cases.py),
its record sealed with the encryption key when one is set."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity

from adapters.closed_cases import store_closed_case
from adapters.codec import KeyRing
from support.case_view import CaseView
from support.closed_case import closed_case_row


class ArchiveActivities:
    def __init__(self, engine: Engine, keys: KeyRing | None = None) -> None:
        """`keys`: the record (internal notes, the thread) is sealed with them (None: in clear)."""
        self._engine = engine
        self._keys = keys

    @activity.defn(name="archive_case")
    async def archive_case(self, case: CaseView) -> str:
        row = closed_case_row(case, archived_at=datetime.now(UTC))
        await asyncio.to_thread(store_closed_case, self._engine, row, self._keys)
        activity.logger.info("case archived", extra={"case_id": case.case_id, "status": case.status.value})
        return case.case_id

"""Archive the final case record outside Temporal, so reports outlive its retention.

A JSON file per case under var/archive/ for now (written atomically; re-running overwrites the
same file with the same content); the database takes over once the directory database exists.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from temporalio import activity

from support.case_view import CaseView


class ArchiveActivities:
    def __init__(self, archive_dir: Path) -> None:
        self._dir = archive_dir

    @activity.defn(name="archive_case")
    async def archive_case(self, case: CaseView) -> str:
        path = await asyncio.to_thread(self._write, case)
        activity.logger.info("case archived", extra={"case_id": case.case_id, "status": case.status.value})
        return str(path)

    def _write(self, case: CaseView) -> Path:
        self._dir.mkdir(parents=True, exist_ok=True)
        target = self._dir / f"{case.case_id}.json"
        fd, temp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(case.model_dump_json(indent=2))
        os.replace(temp, target)
        return target


def read_archive(archive_dir: Path, case_id: str) -> CaseView | None:
    path = archive_dir / f"{case_id}.json"
    return CaseView.model_validate_json(path.read_text(encoding="utf-8")) if path.exists() else None

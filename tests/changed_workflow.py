"""A 'new version' of the case workflow that sleeps before loading the case context: a change
that would break running cases, for the replay test to catch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow


@workflow.defn(name="SupportCaseWorkflow")
class StartsWithATimer:
    @workflow.run
    async def run(self, start: Any) -> None:
        await workflow.sleep(timedelta(seconds=5))

"""The floor for the lifecycle benchmark: a workflow with a case's counts of work and no logic."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bare_step")
async def bare_step(n: int) -> int:
    return n


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    """As many activities, timers, signals and updates as a case, doing nothing."""

    @workflow.init
    def __init__(self, counts: dict[str, int]) -> None:
        self.signals = 0
        self.updates = 0
        self.deadlines = [
            asyncio.ensure_future(workflow.sleep(timedelta(hours=1)))
            for _ in range(max(counts["timers"] - 1, 0))
        ]

    @workflow.run
    async def run(self, counts: dict[str, int]) -> int:
        # Shaped like a case: deliveries run beside each other, deadline timers are started and
        # cancelled when the awaited event comes, one short wait mirrors the reopen window.
        await asyncio.gather(
            *(
                workflow.execute_activity(bare_step, i, start_to_close_timeout=timedelta(seconds=30))
                for i in range(counts["activities"])
            )
        )
        await workflow.wait_condition(
            lambda: self.signals >= counts["signals"] and self.updates >= counts["updates"]
        )
        await workflow.sleep(timedelta(seconds=1))
        for timer in self.deadlines:
            timer.cancel()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.signals + self.updates

    @workflow.signal
    def poke(self) -> None:
        self.signals += 1

    @workflow.update
    def touch(self) -> int:
        self.updates += 1
        return self.updates

"""The floors of the benchmarks: workflows with a case's counts of work and no logic (lifecycle),
and timers falling due together that then run trivial activities (deadline burst)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.common import Priority


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
        self.slept = False  # the reopen window's mirror is over
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
        # All updates but the last (the survey answer's mirror) come before the reopen window's.
        await workflow.wait_condition(
            lambda: self.signals >= counts["signals"] and self.updates >= counts["updates"] - 1
        )
        await workflow.sleep(timedelta(seconds=1))
        self.slept = True
        await workflow.wait_condition(lambda: self.updates >= counts["updates"])
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

    @workflow.update
    async def settled(self) -> int:
        """Answers once the one short wait is over: the mirror of the driver waiting on the case's
        `reached` update for its survey to open (the same call in both drivers, no polling)."""
        self.updates += 1
        await workflow.wait_condition(lambda: self.slept)
        return self.updates


@dataclass(frozen=True)
class BareDeadline:
    """When the bare deadline workflow's last timer falls due, how many timers fall due in the
    second up to it (a case's 50 % and 80 % warnings and its breach, for a 1 s target), and how
    many activities it then runs."""

    due: datetime
    activities: int
    timers: int = 1


def timer_instants(deadline: BareDeadline) -> list[datetime]:
    """`timers` instants within the second before `due`, the last one at `due`: for three, at
    50 %, 75 % and 100 % of that second, like a 1 s target's warnings and breach."""
    step = timedelta(seconds=1) / max(deadline.timers + 1, 2) if deadline.timers > 1 else timedelta(0)
    return [deadline.due - step * (deadline.timers - 1 - i) for i in range(deadline.timers)]


class BareBreachLedger:
    """The floor's delivery ledger, in the benchmark's own process: when each bare deadline
    workflow's measured activity ran (its body's clock, as the delivery ledger's `recorded_at`)."""

    def __init__(self) -> None:
        self.ran: dict[str, datetime] = {}

    @activity.defn(name="bare_breach_step")
    async def step(self, n: int) -> None:
        if n == 0:  # the measured one, like the duty manager's escalation among a breach's deliveries
            info = activity.info()
            self.ran.setdefault(info.workflow_id or info.activity_id, datetime.now(UTC))


@workflow.defn(name="BareDeadlineWorkflow")
class BareDeadlineWorkflow:
    """The floor of a deadline burst: timers that fall due in the second up to `due`, one after
    the other as a case's checkpoints do, then `activities` activities beside each other doing
    nothing, the measured one with an escalation's priority."""

    @workflow.run
    async def run(self, deadline: BareDeadline) -> None:
        for instant in timer_instants(deadline):
            delay = instant - workflow.now()
            if delay > timedelta(0):
                await workflow.sleep(delay)
        await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    BareBreachLedger.step,
                    i,
                    start_to_close_timeout=timedelta(seconds=30),
                    priority=Priority(priority_key=1) if i == 0 else Priority.default,
                )
                for i in range(deadline.activities)
            )
        )

"""Deadline burst: M cases whose first-response deadlines fall in the same second. Prints the
lateness of breach handling: when the escalation notification went out (the delivery ledger's
record) minus the deadline, p50 / p99 / max.

The cases are opened while their calendar is still closed; it opens at one instant T for all of
them, so every deadline is T + 1 s of business time, exactly, by the calendar's own rules.

Beside it, in the same run and on the same server once the case worker has stopped, its floor:
M bare workflows (bench/bare_workflow.py) with as many timers as fired in a case from T on (its
50 % and 80 % warnings and its breach, in one second), the last at one instant, and that then run as
many activities as a case scheduled from T on (its burst deliveries, averaged over a sample), with
trivial bodies, on a worker in this process with the case worker's tuning. The floor's lateness is
when the measured activity's body ran (as the ledger records `recorded_at` in the delivery's body)
minus that instant; the measured one has the priority of the escalation to the duty manager.
`--deliveries-process` sends the cases' deliveries from `worker.py --only deliveries` in a process
of its own, this process deciding the cases only.
`lateness_p99_to_floor` is casework's p99 over the floor's.
Run: `make bench` (short) or `.venv/bin/python -m bench.deadline_burst --cases 1000`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from adapters.database import open_database
from adapters.schema import deliveries
from adapters.settings import Settings
from application.cases import Cases, Unavailable
from bench.bare_workflow import BareBreachLedger, BareDeadline, BareDeadlineWorkflow
from bench.machine import Phase, measured
from bench.report import Progress, counted, emit, latency
from bench.stack import Stack, bench_request, bench_stack, tuning_env
from bootstrap.worker_runtime import Part, build_worker, worker_tuning
from scaffold.policies import FAST_CALENDAR, fast_policy_model, policy_toml
from scaffold.processes import WorkerProcess, dev_server_pid, worker_env
from support.policies.policy import Policy, policy_from_dict
from support.sla_clocks.calendar import WEEKDAYS

# Openings the intake answered 503 "not decided within 15 s" (the goal: none).
UNDECIDED: set[str] = set()


def burst_policy_model(opens_at: datetime) -> Policy:
    """The fast policy with a 1 s first-response target, its 24x7 calendar replaced by one in UTC
    that opens every day at `opens_at`'s time of day (and stays open until midnight)."""
    fast = fast_policy_model(first_response="1s")
    window = [f"{opens_at:%H:%M:%S}-24:00"]
    calendar = fast.calendars[FAST_CALENDAR].model_copy(
        update={"time_zone": "UTC", "hours": dict.fromkeys(WEEKDAYS, window)}
    )
    policy = fast.model_copy(update={"calendars": fast.calendars | {FAST_CALENDAR: calendar}})
    # model_copy does not validate (nor rebuild the calendar's parsed windows): validate the whole.
    return policy_from_dict(policy.model_dump(mode="json"), "burst policy")


def burst_policy(directory: Path, opens_at: datetime) -> Path:
    """The burst policy as a file in `directory`, for the worker."""
    path = directory / "burst-policy.toml"
    path.write_text(policy_toml(burst_policy_model(opens_at)), encoding="utf-8")
    return path


@asynccontextmanager
async def deliveries_apart(stack: Stack, apart: bool) -> AsyncIterator[WorkerProcess | None]:
    """With `apart`, `worker.py --only deliveries` in a process of its own on the stack's server,
    sending the cases' deliveries while this process decides the cases."""
    if not apart:
        yield None
        return
    address = stack.env.client.service_client.config.target_host
    process = WorkerProcess(
        worker_env(stack.settings, address, stack.settings.policy_path) | tuning_env(),
        stack.tmp / "deliveries.log",
        args=("--only", "deliveries"),
    )
    try:
        await asyncio.to_thread(process.wait_ready)
        yield process
    finally:
        process.stop()


async def casework_burst(
    stack: Stack, cases_n: int, concurrency: int, opens_at: datetime, deadline: datetime, apart: bool
) -> tuple[list[str], list[float], dict[str, float | None]]:
    """Open the cases before T, then wait for their escalations: the case ids, each escalation's
    lateness (the delivery ledger's `recorded_at` minus the deadline), and the CPU time each
    process used from T until the last escalation was sent."""
    run = uuid.uuid4().hex[:6]
    address = stack.env.client.service_client.config.target_host
    only: Part | None = "cases" if apart else None
    async with (
        deliveries_apart(stack, apart) as sender,
        build_worker(stack.env.client, stack.settings, only=only),
    ):
        # As `make run` (bootstrap.runner): the worker is on this very client, so cases start eagerly.
        cases = Cases(stack.env.client, stack.settings.task_queue, eager_start=True)
        semaphore = asyncio.Semaphore(concurrency)

        async def open_one(i: int) -> str:
            request = bench_request(f"burst-{run}-{i}", "A")
            async with semaphore:
                for _ in range(20):
                    try:
                        view = (await cases.open(request)).case
                        break
                    except Unavailable:  # not decided in 15 s: counted, and sent again as the 503 says
                        UNDECIDED.add(request.case_id)
                else:
                    raise SystemExit(f"{request.case_id} was not decided after 20 tries")
                assert view.first_response is not None and view.first_response.due == deadline, (
                    view.first_response
                )
                return view.case_id

        with Progress("opening", cases_n) as progress:
            ids = await asyncio.gather(*(counted(progress, open_one(i)) for i in range(cases_n)))
        opened_by = datetime.now(UTC)
        if opened_by >= opens_at:
            raise SystemExit(f"opening took too long ({opened_by - opens_at} past T); use fewer cases")
        engine = open_database(stack.settings)
        await asyncio.sleep(max((opens_at - datetime.now(UTC)).total_seconds(), 0))
        with (
            measured(dev_server_pid(address), [sender] if sender else []) as phase,
            Progress("escalations", cases_n) as escalated,
        ):
            for _ in range(1200):
                with engine.connect() as connection:
                    rows = connection.execute(
                        select(deliveries.c.case_id, deliveries.c.recorded_at).where(
                            deliveries.c.event == "sla_breached",
                            deliveries.c.notification_id.like("%/duty_manager"),
                            deliveries.c.status == "sent",
                        )
                    ).all()
                escalated.reach(len(rows))
                if len(rows) >= cases_n:
                    break
                await asyncio.sleep(0.25)
    late = [((at if at.tzinfo else at.replace(tzinfo=UTC)) - deadline).total_seconds() for _, at in rows]
    return ids, late, _by_process(phase[0], apart)


def _by_process(phase: Phase, apart: bool) -> dict[str, float | None]:
    """The phase's CPU-seconds: the dev server, this process (the case worker, and the deliveries
    unless they run apart) and the deliveries' own process."""
    return {
        "server": None if phase.server_cpu is None else round(phase.server_cpu, 1),
        "this_process": round(phase.driver_cpu, 1),
        "deliveries_process": round(phase.worker_cpu[0], 1) if apart else None,
    }


async def work_since(client: Client, case_ids: list[str], since: datetime) -> tuple[int, int]:
    """How many timers fired and activities were scheduled in a case from `since` on (its
    checkpoints falling due, the burst's deliveries: warnings still sent, the breach's notices),
    on average over a sample of the cases, at least one of each."""
    sample = case_ids[:20]
    timers = activities = 0
    for case_id in sample:
        history = await client.get_workflow_handle(case_id).fetch_history()
        for event in history.events:
            if event.event_time.ToDatetime(tzinfo=UTC) < since:
                continue
            timers += event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
            activities += event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    n = max(len(sample), 1)
    return max(1, round(timers / n)), max(1, round(activities / n))


async def floor_burst(
    client: Client, settings: Settings, workflows_n: int, timers: int, activities: int, concurrency: int
) -> tuple[datetime, list[float], dict[str, float | None]]:
    """The floor, on the same server: as many bare workflows whose `timers` timers each fall due
    in one second, the last at one instant, and that then run `activities` trivial activities
    each, on a worker in this process with the case worker's tuning. Returns the instant, each
    workflow's lateness (when its measured activity's body ran minus the instant), and the CPU
    time the server and this process used from the instant until the last one ran."""
    run = uuid.uuid4().hex[:6]
    queue = f"{settings.task_queue}-floor"
    due = (datetime.now(UTC) + timedelta(seconds=max(10, workflows_n // 40))).replace(microsecond=0)
    ledger = BareBreachLedger()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BareDeadlineWorkflow],
        activities=[ledger.step],
        **worker_tuning(settings),
    ):
        semaphore = asyncio.Semaphore(concurrency)

        async def start_one(i: int) -> None:
            async with semaphore:
                await client.start_workflow(
                    BareDeadlineWorkflow.run,
                    BareDeadline(due=due, activities=activities, timers=timers),
                    id=f"floor-{run}-{i}",
                    task_queue=queue,
                )

        with Progress("floor: starting", workflows_n, unit="workflow") as progress:
            await asyncio.gather(*(counted(progress, start_one(i)) for i in range(workflows_n)))
        if datetime.now(UTC) >= due:
            raise SystemExit("starting the floor's workflows took too long; use fewer cases")
        await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0))
        with (
            measured(dev_server_pid(client.service_client.config.target_host), []) as phase,
            Progress("floor: activities run", workflows_n, unit="workflow") as progress,
        ):
            for _ in range(1200):
                progress.reach(len(ledger.ran))
                if len(ledger.ran) >= workflows_n:
                    break
                await asyncio.sleep(0.25)
    return due, [(at - due).total_seconds() for at in ledger.ran.values()], _by_process(phase[0], False)


async def main(cases_n: int, concurrency: int, apart: bool) -> dict[str, object]:
    # Open the cases within the lead time; T must stay on today's UTC date.
    lead = timedelta(seconds=max(20, cases_n // 8))
    opens_at = (datetime.now(UTC) + lead).replace(microsecond=0)
    if opens_at.date() != datetime.now(UTC).date():
        raise SystemExit("too close to midnight UTC for this benchmark; run it again in a few minutes")
    deadline = opens_at + timedelta(seconds=1)
    async with bench_stack() as stack:
        stack.settings = stack.settings.replace(policy_path=burst_policy(stack.tmp, opens_at))
        ids, late, cpu = await casework_burst(stack, cases_n, concurrency, opens_at, deadline, apart)
        # The case worker is stopped; the floor runs alone on the same server.
        timers, activities = await work_since(stack.env.client, ids, opens_at)
        floor_due, floor_late, floor_cpu = await floor_burst(
            stack.env.client, stack.settings, cases_n, timers, activities, concurrency
        )
    lateness, floor = latency(late), latency(floor_late)
    p99, floor_p99 = lateness["p99"], floor["p99"]
    return {
        "benchmark": "deadline_burst",
        "cases": cases_n,
        "deadline": deadline.isoformat(),
        "escalations": len(late),
        "lateness_s": lateness,
        "cases_opened": len(ids),
        "openings_not_decided_in_15s": len(UNDECIDED),
        "cpus": os.cpu_count(),
        "deliveries_process": apart,
        # From T until the last escalation was sent: where the machine's two cores went.
        "cpu_s_from_deadline_to_last_escalation": cpu,
        "floor_deadline": floor_due.isoformat(),
        "floor_workflows": cases_n,
        "floor_activities_per_workflow": activities,
        "floor_timers_per_workflow": timers,
        "floor_measured": len(floor_late),
        "floor_lateness_s": floor,
        "floor_cpu_s_from_deadline_to_last_activity": floor_cpu,
        "lateness_p99_to_floor": (
            round(p99 / floor_p99, 2) if p99 is not None and floor_p99 is not None and floor_p99 > 0 else None
        ),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--deliveries-process",
        action="store_true",
        help="send the deliveries from `worker.py --only deliveries` (decide in this process only)",
    )
    args = parser.parse_args()
    emit("deadline_burst", asyncio.run(main(args.cases, args.concurrency, args.deliveries_process)))

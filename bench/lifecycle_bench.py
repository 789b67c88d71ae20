"""Lifecycle throughput: N cases through the intake code path, open -> first response -> resolve
-> survey -> closed, on the embedded dev server with a fast policy; beside it, in the same run, a
bare workflow issuing as many activities, timers, signals and updates as the average case with
trivial bodies: the floor of Temporal on this machine.

Run: `make bench` (short) or `.venv/bin/python -m bench.lifecycle_bench --cases 500`.
Prints a table and a JSON summary. Both workers (`worker.py`, and `bench.bare_worker` for the
floor) run in their own processes with the same tuning; CPU per case is that process's own.

`--workers 2` (or more) runs the cases a second time, in the same run and on the same server,
against that many `worker.py` processes, and adds their figures as `workers_2` (CPU per case is
the workers' sum). Several workers run with CASEWORK_MAX_CACHED_WORKFLOWS=0, as
docs/several-workers.md's known problem with several workers says until the SDK is fixed; the
1-worker figures keep the default cache, so the comparison includes the cost of running uncached.

`--deliveries-process` runs the cases once more, in the same run, against `worker.py --only cases`
beside `worker.py --only deliveries` (deciding and sending on a core each), and adds their figures
as `deliveries_process` (CPU per case is the two processes' sum, and each one's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from adapters.settings import Settings
from application.cases import ActionRejected, Cases, Unavailable
from bench.bare_workflow import BareWorkflow
from bench.machine import Phase, measured
from bench.report import Progress, counting, emit
from bench.round_trips import RoundTrips, counted_client
from bench.stack import Stack, bench_request, bench_stack, tuning_env
from scaffold.policies import fast_policy
from scaffold.processes import WorkerProcess, dev_server_pid, worker_env
from support.case.actions import FirstResponse, Resolution, SurveyAnswer
from support.policies.vocabulary import CaseStatus
from workflows.support_case import SupportCaseWorkflow

# Openings the intake answered 503 "not decided within 15 s" (sent again, as it says is safe).
UNDECIDED: list[str] = []
# Survey answers the case refused because its survey had expired (the fast policy waits 3 s): the
# driver fell behind. Counted, not fatal: the case ends without an answer, as it would in life.
SURVEYS_MISSED: list[str] = []
# The driver's calls to the server in each phase, by kind (bench.round_trips), by phase shape.
ROUND_TRIPS: dict[str, Counter[str]] = {}


async def drive_case(cases: Cases, i: int, run: str) -> str:
    request = bench_request(f"bench-{run}-{i}")
    for _ in range(20):
        try:
            case_id = (await cases.open(request)).case.case_id
            break
        except Unavailable:
            UNDECIDED.append(request.case_id)
    else:
        raise SystemExit(f"{request.case_id} was not decided after 20 tries")
    await cases.act(case_id, FirstResponse(engineer="bench", message="On it"))
    await cases.act(case_id, Resolution(engineer="bench", summary="Done"))
    # The reopen window (1 s), then the survey is open: the driver waits on one update that
    # answers when the case is closed, as the floor's driver waits on its `settled` (no polling in
    # either; a status poll cost ~10 describes a case, and the floor none).
    await cases.client.get_workflow_handle(case_id).execute_update(
        SupportCaseWorkflow.reached, CaseStatus.CLOSED
    )
    try:
        await cases.act(case_id, SurveyAnswer(score=5))
    except ActionRejected as refused:
        if "expired" not in str(refused):
            raise
        SURVEYS_MISSED.append(case_id)
    await cases.client.get_workflow_handle(case_id).result()
    return case_id


# What Temporal Cloud bills as an action, as a history shows it: a run's start, each signal and
# accepted update, each activity scheduled, each timer started, each search-attribute upsert and
# each marker (a patch, a local activity). Queries and describes are not in a history.
BILLED = ("starts", "signals", "updates", "activities", "timers", "upserts", "markers")


async def history_counts(client: Client, case_id: str) -> Counter[str]:
    history = await client.get_workflow_handle(case_id).fetch_history()
    kinds = Counter(EventType.Name(e.event_type) for e in history.events)
    counts = Counter(
        {
            "events": len(history.events),
            "history_bytes": sum(e.ByteSize() for e in history.events),
            "starts": kinds["EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"],
            "activities": kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"],
            "timers": kinds["EVENT_TYPE_TIMER_STARTED"],
            "signals": kinds["EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"],
            "updates": kinds["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"],
            "upserts": kinds["EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
            "markers": kinds["EVENT_TYPE_MARKER_RECORDED"],
        }
    )
    counts["actions"] = sum(counts[k] for k in BILLED)
    counts["update_answer_bytes"] = sum(
        e.workflow_execution_update_completed_event_attributes.outcome.ByteSize()
        for e in history.events
        if e.HasField("workflow_execution_update_completed_event_attributes")
    )
    return counts


async def in_batches(n: int, concurrency: int, make: object) -> list[object]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> object:
        async with semaphore:
            return await make(i)  # type: ignore[operator]

    return await asyncio.gather(*(one(i) for i in range(n)))


# docs/several-workers.md, "Known problem with several workers": until the SDK is fixed, every worker runs
# uncached when several do (each task replays from history, at a CPU cost).
SEVERAL_WORKERS_ENV = {"CASEWORK_MAX_CACHED_WORKFLOWS": "0"}


async def casework_phase(
    stack: Stack,
    address: str,
    workers: int,
    cases_n: int,
    concurrency: int,
    split: bool = False,
) -> tuple[list[str], Phase]:
    """N cases against `workers` worker.py processes on the stack's server (or, `split`, one
    `worker.py --only cases` and one `--only deliveries`): the case ids, and the phase's times."""
    run = uuid.uuid4().hex[:6]
    env = worker_env(stack.settings, address) | tuning_env() | (SEVERAL_WORKERS_ENV if workers > 1 else {})
    shape = "split" if split else str(workers)
    parts = [("--only", "cases"), ("--only", "deliveries")] if split else [()] * workers
    processes = [
        WorkerProcess(env, stack.tmp / f"worker-{shape}-{n}.log", args=args) for n, args in enumerate(parts)
    ]
    try:
        for process in processes:
            await asyncio.to_thread(process.wait_ready)
        client, trips = counted_client(stack.env.client)
        cases = Cases(client, stack.settings.task_queue)
        label = (
            "cases, deliveries apart" if split else "cases" if workers == 1 else f"cases, {workers} workers"
        )
        await asyncio.gather(*(drive_case(cases, -1 - n, run) for n in range(workers)))  # warm-up
        with measured(dev_server_pid(address), processes) as phase, Progress(label, cases_n) as progress:
            trips.calls.clear()
            ids = await in_batches(
                cases_n, concurrency, counting(progress, lambda i: drive_case(cases, i, run))
            )
        ROUND_TRIPS[shape] = Counter(trips.calls)
    finally:
        for process in processes:
            process.stop()
    return [str(i) for i in ids], phase[0]


async def floor_phase(
    stack: Stack, address: str, run: str, average: dict[str, int], cases_n: int, concurrency: int
) -> tuple[Phase, Counter[str], RoundTrips]:
    """The floor: a bare workflow making the case driver's calls, one for one (its worker in its
    own process), measured as the cases were; its phase, its history counts and its round trips."""
    env = stack.env
    bare_queue = stack.settings.task_queue + "-bare"
    bare_env = worker_env(stack.settings, address) | tuning_env() | {"CASEWORK_TASK_QUEUE": bare_queue}
    bare_worker = WorkerProcess(
        bare_env, stack.tmp / "bare.log", args=(), program=("-m", "bench.bare_worker")
    )
    try:
        await asyncio.to_thread(bare_worker.wait_ready)

        bare_client, bare_trips = counted_client(env.client)

        async def bare(i: int) -> None:
            # The case driver's calls, one for one: the start, the updates (its last but one
            # the wait for the survey), the result.
            handle = await bare_client.start_workflow(
                BareWorkflow.run, average, id=f"bare-{run}-{i}", task_queue=bare_queue
            )
            for _ in range(average["signals"]):
                await handle.signal(BareWorkflow.poke)
            for _ in range(max(average["updates"] - 2, 0)):
                await handle.execute_update(BareWorkflow.touch)
            await handle.execute_update(BareWorkflow.settled)
            await handle.execute_update(BareWorkflow.touch)
            await handle.result()

        await bare(-1)
        bare_trips.calls.clear()
        with (
            measured(dev_server_pid(address), [bare_worker]) as bare_phase,
            Progress("bare workflows", cases_n, unit="workflow") as progress,
        ):
            await in_batches(cases_n, concurrency, counting(progress, bare))
        bare_events: Counter[str] = Counter()
        for i in range(min(20, cases_n)):
            bare_events += await history_counts(env.client, f"bare-{run}-{i}")
    finally:
        bare_worker.stop()
    return bare_phase[0], bare_events, bare_trips


async def main(cases_n: int, concurrency: int, workers: int, split: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as policy_dir:
        async with bench_stack(fast_policy(Path(policy_dir))) as stack:
            env = stack.env
            address = env.client.service_client.config.target_host
            run = uuid.uuid4().hex[:6]
            ids, one = await casework_phase(stack, address, 1, cases_n, concurrency)
            undecided = len(UNDECIDED)
            scaled = None
            if workers > 1:
                scaled = await casework_phase(stack, address, workers, cases_n, concurrency)
            undecided_scaled = len(UNDECIDED) - undecided
            apart = None
            if split:
                _, apart = await casework_phase(stack, address, 1, cases_n, concurrency, split=True)
            undecided_apart = len(UNDECIDED) - undecided - undecided_scaled
            totals: Counter[str] = Counter()
            sample = min(20, len(ids))
            for case_id in ids[:sample]:
                totals += await history_counts(env.client, str(case_id))
            average = {k: round(v / sample) for k, v in totals.items()}
            for kind in ("events", "history_bytes", "actions", "update_answer_bytes", *BILLED):
                average.setdefault(kind, 0)  # a case may have none of a kind (no signals since issue 15)

            bare_phase, bare_events, bare_trips = await floor_phase(
                stack, address, run, average, cases_n, concurrency
            )
    floor = bare_phase
    case_seconds, bare_seconds = one.seconds, floor.seconds
    summary: dict[str, object] = {
        "benchmark": "lifecycle_throughput",
        "cases": cases_n,
        "concurrency": concurrency,
        "cases_per_s": round(cases_n / case_seconds, 2),
        "bare_per_s": round(cases_n / bare_seconds, 2),
        "ratio_case_to_bare": round((cases_n / case_seconds) / (cases_n / bare_seconds), 3),
        # Counts (not timings): what a case makes the server record and bill, against the floor's.
        "events_per_case": average["events"],
        "bare_events_per_workflow": round(bare_events["events"] / sample),
        "actions_per_case": average["actions"],
        "bare_actions_per_workflow": round(bare_events["actions"] / sample),
        "history_bytes_per_case": average["history_bytes"],
        "bare_history_bytes_per_workflow": round(bare_events["history_bytes"] / sample),
        # What the updates' answers put into the history, per update (an action's answer).
        "update_answer_bytes_per_update": round(average["update_answer_bytes"] / max(average["updates"], 1)),
        "actions_by_kind_per_case": {k: average[k] for k in BILLED},
        "bare_actions_by_kind_per_workflow": {k: round(bare_events[k] / sample) for k in BILLED},
        # The driver's calls to the server per case (the floor's: start, updates, result).
        "round_trips_per_case": {k: round(v / cases_n, 2) for k, v in sorted(ROUND_TRIPS["1"].items())},
        "bare_round_trips_per_workflow": {
            k: round(v / cases_n, 2) for k, v in sorted(bare_trips.calls.items())
        },
        # What a case writes to the server that the floor does not: search attributes (its
        # status, and TemporalChangeVersion for each patch) and markers (patches, local activity).
        "search_attribute_upserts_per_case": average["upserts"],
        "markers_per_case": average["markers"],
        "per_case": {k: average[k] for k in ("activities", "timers", "signals", "updates")},
        "worker_cpu_s_per_case": round(sum(one.worker_cpu) / cases_n, 4),
        "openings_not_decided_in_15s": undecided,
        "surveys_expired_before_the_answer": len(SURVEYS_MISSED),
        "bare_worker_cpu_s_per_workflow": round(sum(floor.worker_cpu) / cases_n, 4),
        # The whole machine's CPU per case, by process: the dev server's share is what Temporal
        # costs a case beyond the worker, and the machine has two cores for all of them.
        "cpu_s_per_case": one.per(cases_n),
        "bare_cpu_s_per_workflow": floor.per(cases_n),
        "cpus": os.cpu_count(),
        "workers": workers,
        # Only the tuning variables (bench.stack.TUNING) of this process reach the workers.
        "worker_max_cached_workflows": int(
            tuning_env().get(
                "CASEWORK_MAX_CACHED_WORKFLOWS", Settings.model_fields["max_cached_workflows"].default
            )
        ),
        "tuning": tuning_env(),
    }
    if scaled is not None:
        _, several = scaled
        seconds, cpu = several.seconds, several.worker_cpu
        summary[f"workers_{workers}"] = {
            "cases_per_s": round(cases_n / seconds, 2),
            "worker_cpu_s_per_case": round(sum(cpu) / cases_n, 4),
            "openings_not_decided_in_15s": undecided_scaled,
            "cpu_s_per_case": several.per(cases_n),
            "cpu_s_per_case_by_worker": [round(c / cases_n, 4) for c in cpu],
            "ratio_to_1_worker": round(case_seconds / seconds, 3),
            "max_cached_workflows": int(SEVERAL_WORKERS_ENV["CASEWORK_MAX_CACHED_WORKFLOWS"]),
            "why_uncached": "docs/several-workers.md 'Known problem with several workers': "
            "CASEWORK_MAX_CACHED_WORKFLOWS=0 on every worker when several run, until the SDK is fixed",
        }
    if apart is not None:
        seconds, (cases_cpu, deliveries_cpu) = apart.seconds, apart.worker_cpu
        summary["deliveries_process"] = {
            "cases_per_s": round(cases_n / seconds, 2),
            "ratio_case_to_bare": round((cases_n / seconds) / (cases_n / bare_seconds), 3),
            "ratio_to_one_process": round(case_seconds / seconds, 3),
            "worker_cpu_s_per_case": round((cases_cpu + deliveries_cpu) / cases_n, 4),
            "cases_process_cpu_s_per_case": round(cases_cpu / cases_n, 4),
            "deliveries_process_cpu_s_per_case": round(deliveries_cpu / cases_n, 4),
            "openings_not_decided_in_15s": undecided_apart,
            "cpu_s_per_case": apart.per(cases_n),
        }
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also run the cases against this many worker processes on the same server (default 1)",
    )
    parser.add_argument(
        "--deliveries-process",
        action="store_true",
        help="also run the cases against `worker.py --only cases` beside `--only deliveries`",
    )
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    emit(
        "lifecycle_bench",
        asyncio.run(main(args.cases, args.concurrency, args.workers, args.deliveries_process)),
    )

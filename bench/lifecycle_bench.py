"""Lifecycle throughput: N cases through the intake code path, open -> first response -> resolve
-> survey -> closed, on the embedded dev server with a fast policy; beside it, in the same run, a
bare workflow issuing as many activities, timers, signals and updates as the average case with
trivial bodies: the floor of Temporal on this machine.

Run: `make bench` (short) or `.venv/bin/python -m bench.lifecycle_bench --cases 500`.
Prints a table and a JSON summary. Both workers (`worker.py`, and `bench.bare_worker` for the
floor) run in their own processes with the same tuning; CPU per case is that process's own.

`--workers 2` (or more) runs the cases a second time, in the same run and on the same server,
against that many `worker.py` processes, and adds their figures as `workers_2` (CPU per case is
the workers' sum). Several workers run with CASEWORK_MAX_CACHED_WORKFLOWS=0, as the README's known
problem with several workers says until the SDK is fixed; the 1-worker figures keep the default
cache, so the comparison includes the cost of running uncached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from adapters.settings import Environment
from bench.bare_workflow import BareWorkflow
from bench.report import Progress, counting, emit
from bench.stack import Stack, bench_request, bench_stack, tuning_env
from intake.cases import ActionRejected, Cases, Unavailable
from scaffold.policies import fast_policy
from scaffold.processes import WorkerProcess, cpu_seconds, worker_env
from support.actions import FirstResponse, Resolution, SurveyAnswer
from support.vocabulary import CaseStatus
from workflows.search_attributes import CASE_STATUS

# Openings the intake answered 503 "not decided within 15 s" (sent again, as it says is safe).
UNDECIDED: list[str] = []
# Survey answers the case refused because its survey had expired (the fast policy waits 3 s): the
# driver fell behind. Counted, not fatal: the case ends without an answer, as it would in life.
SURVEYS_MISSED: list[str] = []
REOPEN_WINDOW_S = 1.0  # scaffold.policies.fast_policy's


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
    await cases.respond(case_id, FirstResponse(engineer="bench", message="On it"))
    await cases.resolve(case_id, Resolution(engineer="bench", summary="Done"))
    # The reopen window is 1 s; then the survey is open. The driver waits out the window, then
    # watches the case's status search attribute on the server (as a list or the console does),
    # not its view: a query is a task for the worker, and polling it every 50 ms (twenty a case)
    # made the driver's cost the case's; the floor is never queried.
    await asyncio.sleep(REOPEN_WINDOW_S)
    handle = cases.client.get_workflow_handle(case_id)
    for _ in range(400):
        description = await handle.describe()
        if description.typed_search_attributes.get(CASE_STATUS) == CaseStatus.CLOSED.value:
            break
        await asyncio.sleep(0.1)
    try:
        await cases.answer_survey(case_id, SurveyAnswer(score=5))
    except ActionRejected as refused:
        if "expired" not in str(refused):
            raise
        SURVEYS_MISSED.append(case_id)
    await cases.client.get_workflow_handle(case_id).result()
    return case_id


async def history_counts(client: Client, case_id: str) -> Counter[str]:
    history = await client.get_workflow_handle(case_id).fetch_history()
    kinds = Counter(EventType.Name(e.event_type) for e in history.events)
    return Counter(
        {
            "events": len(history.events),
            "activities": kinds["EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"],
            "timers": kinds["EVENT_TYPE_TIMER_STARTED"],
            "signals": kinds["EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"],
            "updates": kinds["EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"],
        }
    )


async def in_batches(n: int, concurrency: int, make: object) -> list[object]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> object:
        async with semaphore:
            return await make(i)  # type: ignore[operator]

    return await asyncio.gather(*(one(i) for i in range(n)))


# README, "Known problem with several workers": until the SDK is fixed, every worker runs
# uncached when several do (each task replays from history, at a CPU cost).
SEVERAL_WORKERS_ENV = {"CASEWORK_MAX_CACHED_WORKFLOWS": "0"}


async def casework_phase(
    stack: Stack, address: str, workers: int, cases_n: int, concurrency: int
) -> tuple[list[str], float, list[float]]:
    """N cases against `workers` worker.py processes on the stack's server: the case ids, the
    wall time, and each worker's CPU time."""
    run = uuid.uuid4().hex[:6]
    env = worker_env(stack.settings, address) | tuning_env() | (SEVERAL_WORKERS_ENV if workers > 1 else {})
    processes = [WorkerProcess(env, stack.tmp / f"worker-{workers}-{n}.log", args=()) for n in range(workers)]
    try:
        for process in processes:
            await asyncio.to_thread(process.wait_ready)
        cases = Cases(stack.env.client, stack.settings.task_queue)
        await asyncio.gather(*(drive_case(cases, -1 - n, run) for n in range(workers)))  # warm-up
        cpu0, t0 = [cpu_seconds(p.process.pid) for p in processes], time.perf_counter()
        label = "cases" if workers == 1 else f"cases, {workers} workers"
        with Progress(label, cases_n) as progress:
            ids = await in_batches(
                cases_n, concurrency, counting(progress, lambda i: drive_case(cases, i, run))
            )
        seconds = time.perf_counter() - t0
        cpu = [cpu_seconds(p.process.pid) - c for p, c in zip(processes, cpu0, strict=True)]
    finally:
        for process in processes:
            process.stop()
    return [str(i) for i in ids], seconds, cpu


async def main(cases_n: int, concurrency: int, workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as policy_dir:
        async with bench_stack(fast_policy(Path(policy_dir))) as stack:
            env, settings = stack.env, stack.settings
            address = env.client.service_client.config.target_host
            run = uuid.uuid4().hex[:6]
            ids, case_seconds, (case_cpu,) = await casework_phase(stack, address, 1, cases_n, concurrency)
            undecided = len(UNDECIDED)
            scaled = None
            if workers > 1:
                scaled = await casework_phase(stack, address, workers, cases_n, concurrency)
            undecided_scaled = len(UNDECIDED) - undecided
            totals: Counter[str] = Counter()
            sample = min(20, len(ids))
            for case_id in ids[:sample]:
                totals += await history_counts(env.client, str(case_id))
            average = {k: round(v / sample) for k, v in totals.items()}
            for kind in ("events", "activities", "timers", "signals", "updates"):
                average.setdefault(kind, 0)  # a case may have none of a kind (no signals since issue 15)

            bare_queue = settings.task_queue + "-bare"
            bare_env = worker_env(settings, address) | tuning_env() | {"CASEWORK_TASK_QUEUE": bare_queue}
            bare_worker = WorkerProcess(
                bare_env, stack.tmp / "bare.log", args=(), program=("-m", "bench.bare_worker")
            )
            try:
                await asyncio.to_thread(bare_worker.wait_ready)

                async def bare(i: int) -> None:
                    handle = await env.client.start_workflow(
                        BareWorkflow.run, average, id=f"bare-{run}-{i}", task_queue=bare_queue
                    )
                    for _ in range(average["signals"]):
                        await handle.signal(BareWorkflow.poke)
                    for _ in range(average["updates"]):
                        await handle.execute_update(BareWorkflow.touch)
                    await handle.result()

                await bare(-1)
                cpu1, t1 = cpu_seconds(bare_worker.process.pid), time.perf_counter()
                with Progress("bare workflows", cases_n, unit="workflow") as progress:
                    await in_batches(cases_n, concurrency, counting(progress, bare))
                bare_seconds = time.perf_counter() - t1
                bare_cpu = cpu_seconds(bare_worker.process.pid) - cpu1
            finally:
                bare_worker.stop()
    summary: dict[str, object] = {
        "benchmark": "lifecycle_throughput",
        "cases": cases_n,
        "concurrency": concurrency,
        "cases_per_s": round(cases_n / case_seconds, 2),
        "bare_per_s": round(cases_n / bare_seconds, 2),
        "ratio_case_to_bare": round((cases_n / case_seconds) / (cases_n / bare_seconds), 3),
        "events_per_case": average["events"],
        "per_case": {k: average[k] for k in ("activities", "timers", "signals", "updates")},
        "worker_cpu_s_per_case": round(case_cpu / cases_n, 4),
        "openings_not_decided_in_15s": undecided,
        "surveys_expired_before_the_answer": len(SURVEYS_MISSED),
        "bare_worker_cpu_s_per_workflow": round(bare_cpu / cases_n, 4),
        "cpus": os.cpu_count(),
        "workers": workers,
        # Only the tuning variables (bench.stack.TUNING) of this process reach the workers.
        "worker_max_cached_workflows": int(
            tuning_env().get(
                "CASEWORK_MAX_CACHED_WORKFLOWS", Environment.model_fields["max_cached_workflows"].default
            )
        ),
        "tuning": tuning_env(),
    }
    if scaled is not None:
        _, seconds, cpu = scaled
        summary[f"workers_{workers}"] = {
            "cases_per_s": round(cases_n / seconds, 2),
            "worker_cpu_s_per_case": round(sum(cpu) / cases_n, 4),
            "openings_not_decided_in_15s": undecided_scaled,
            "cpu_s_per_case_by_worker": [round(c / cases_n, 4) for c in cpu],
            "ratio_to_1_worker": round(case_seconds / seconds, 3),
            "max_cached_workflows": int(SEVERAL_WORKERS_ENV["CASEWORK_MAX_CACHED_WORKFLOWS"]),
            "why_uncached": "README 'Known problem with several workers': CASEWORK_MAX_CACHED_WORKFLOWS=0 "
            "on every worker when several run, until the SDK is fixed",
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
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    emit("lifecycle_bench", asyncio.run(main(args.cases, args.concurrency, args.workers)))

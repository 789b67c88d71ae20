"""Closed-loop openings: whether any opening is left undecided after the intake's 15 s.

Each run is a fresh stack (embedded dev server, SQLite, SMTP sink) and a fresh worker: `worker.py`
in its own process, or with `--in-process` casework's worker in this driver's own process
(`bootstrap.worker_runtime.build_worker` on the stack's client, the shape of `make run`, where the
intake starts cases eagerly on the worker's own client). C cases (severities A, B, C in turn, real
policy) are opened through the intake code path (`application.cases.Cases.open`, its 15 s open wait),
closed loop, K at a time, from a cold worker (no warm-up). An opening answered `Unavailable` (not
decided within 15 s: the intake's 503) is counted and sent again, as the 503 says is safe, until it
is decided. Per run: the openings that were not decided within 15 s at least once (the issue's
goal: none, in every run), the 503s answered, and the openings' latency from the first send to the
decided case (resends included), p50 / p99 / max; then the same over all runs.

Run: `make bench` (short) or `.venv/bin/python -m bench.openings --runs 10 --cases 300 --concurrency 50`
(add `--in-process` for the worker in the driver's process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from application.cases import Cases, Unavailable
from bench.lifecycle_bench import in_batches
from bench.report import Progress, counting, emit, latency
from bench.stack import Stack, bench_request, bench_stack, tuning_env
from bootstrap.worker_runtime import build_worker
from scaffold.processes import WorkerProcess, worker_env
from support.policies.vocabulary import CaseStatus

# An opening answered 503 this often in a row is counted as never decided, and the run goes on.
SENDS = 20


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # first send -> decided, seconds
    undecided: set[str] = field(default_factory=set)  # openings answered 503 at least once
    unavailable: int = 0  # 503s answered in all
    never_decided: int = 0  # openings still 503 after SENDS sends
    seconds: float = 0.0


@contextlib.asynccontextmanager
async def worker_for(stack: Stack, in_process: bool) -> AsyncIterator[Cases]:
    """The stack's worker (a `worker.py` process, or casework's worker in this process) and the
    intake's gateway to it, with the intake's 15 s open wait."""
    client, queue = stack.env.client, stack.settings.task_queue
    if in_process:
        async with build_worker(client, stack.settings):
            # As `make run` (bootstrap.runner): a worker on this very client, so cases start eagerly.
            yield Cases(client, queue, eager_start=True)
        return
    address = client.service_client.config.target_host
    worker = WorkerProcess(
        worker_env(stack.settings, address) | tuning_env(), stack.tmp / "worker.log", args=()
    )
    try:
        await asyncio.to_thread(worker.wait_ready)
        yield Cases(client, queue)
    finally:
        worker.stop()


async def one_run(number: int, runs: int, cases_n: int, concurrency: int, in_process: bool) -> Run:
    run, tag = Run(), uuid.uuid4().hex[:6]
    async with bench_stack() as stack, worker_for(stack, in_process) as cases:

        async def open_case(i: int) -> None:
            request = bench_request(f"open-{tag}-{i}", "ABC"[i % 3])
            t0 = time.perf_counter()
            for _ in range(SENDS):
                try:
                    view = (await cases.open(request)).case
                    break
                except Unavailable:
                    run.unavailable += 1
                    run.undecided.add(request.case_id)
            else:
                run.never_decided += 1
                return
            run.latencies.append(time.perf_counter() - t0)
            if view.status is not CaseStatus.AWAITING_FIRST_RESPONSE:
                raise RuntimeError(f"{view.case_id} is {view.status}")

        t0 = time.perf_counter()
        with Progress(f"run {number + 1}/{runs}: opening", cases_n) as progress:
            await in_batches(cases_n, concurrency, counting(progress, open_case))  # closed loop
        run.seconds = time.perf_counter() - t0
    return run


async def main(runs_n: int, cases_n: int, concurrency: int, in_process: bool) -> dict[str, object]:
    runs = [await one_run(n, runs_n, cases_n, concurrency, in_process) for n in range(runs_n)]
    every = [seconds for run in runs for seconds in run.latencies]
    per_run = [latency(run.latencies, unit=1000, digits=1) for run in runs]
    header = ("run", "undecided in 15 s", "503s", "opened/s", "p50 ms", "p99 ms", "max ms")
    print(f"{header[0]:>4} {header[1]:>18} {header[2]:>6} " + " ".join(f"{h:>9}" for h in header[3:]))
    for n, (run, ms) in enumerate(zip(runs, per_run, strict=True), 1):
        print(
            f"{n:>4} {len(run.undecided):>18} {run.unavailable:>6} {cases_n / run.seconds:>9.1f} "
            f"{ms['p50']!s:>9} {ms['p99']!s:>9} {ms['max']!s:>9}"
        )
    return {
        "benchmark": "openings",
        "runs": runs_n,
        "cases": cases_n,
        "concurrency": concurrency,
        "in_process": in_process,
        "eager_start": in_process,
        "undecided_per_run": [len(run.undecided) for run in runs],
        "runs_with_undecided": sum(1 for run in runs if run.undecided),
        "unavailable_answers_per_run": [run.unavailable for run in runs],
        "never_decided_per_run": [run.never_decided for run in runs],
        "opened_per_s_per_run": [round(cases_n / run.seconds, 1) for run in runs],
        "latency_ms": latency(every, unit=1000, digits=1),
        "latency_ms_per_run": per_run,
        "cpus": os.cpu_count(),
        "tuning": tuning_env(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="runs, each on a fresh stack (default 10)")
    parser.add_argument("--cases", type=int, default=300, help="openings per run (default 300)")
    parser.add_argument("--concurrency", type=int, default=50, help="openings in flight (default 50)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run casework's worker in this process (build_worker, as make run), not worker.py",
    )
    args = parser.parse_args()
    emit("openings", asyncio.run(main(args.runs, args.cases, args.concurrency, args.in_process)))

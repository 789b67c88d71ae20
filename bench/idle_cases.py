"""Idle cases: worker memory (RSS) with K open cases waiting on their timers, and the time a
restarted worker takes to bring them all back.

K cases (severities A, B, C in turn, on the real policy: deadlines hours or days away) are opened
through the intake code path against `worker.py` in its own process on the embedded dev server.
Then the worker is stopped (SIGINT, as an operator does) and started again, and every case is read
through its workflow (a query): each one the new worker has not seen is replayed from its history.
"Back" is the time from the restart until the last case has answered.

Run: `make bench` (short) or `.venv/bin/python -m bench.idle_cases --cases 5000`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable

from temporalio.service import RPCError, RPCStatusCode

from application.cases import QUERY_TIMEOUT, Cases, Unavailable
from bench.report import Progress, counting, emit
from bench.stack import bench_request, bench_stack, tuning_env
from scaffold.processes import WorkerProcess, rss_bytes, worker_env
from support.policies.vocabulary import CaseStatus
from workflows.support_case import SupportCaseWorkflow

MIB = 1024 * 1024


async def in_parallel(n: int, concurrency: int, call: Callable[[int], Awaitable[object]]) -> list[object]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> object:
        async with semaphore:
            return await call(i)

    return await asyncio.gather(*(one(i) for i in range(n)))


def mib(pid: int) -> tuple[float, float]:
    now, peak = rss_bytes(pid)
    return round(now / MIB, 1), round(peak / MIB, 1)


async def main(cases_n: int, concurrency: int, cache: int) -> dict[str, object]:
    run = uuid.uuid4().hex[:6]
    async with bench_stack() as stack:
        address = stack.env.client.service_client.config.target_host
        cache_env = {"CASEWORK_MAX_CACHED_WORKFLOWS": str(cache)}
        env = worker_env(stack.settings, address) | tuning_env() | cache_env
        log = stack.tmp / "worker.log"
        worker = WorkerProcess(env, log, args=())
        await asyncio.to_thread(worker.wait_ready)
        rss_ready, _ = mib(worker.process.pid)
        cases = Cases(stack.env.client, stack.settings.task_queue)

        retried: list[str] = []

        async def open_case(i: int) -> str:
            """Like an intake: a 503 (not decided in time) is answered by sending it again."""
            request = bench_request(f"idle-{run}-{i}", "ABC"[i % 3])
            for _ in range(10):
                try:
                    view = (await cases.open(request)).case
                    break
                except Unavailable:
                    retried.append(request.case_id)
            else:
                raise RuntimeError(f"{request.case_id} was never decided")
            if view.status is not CaseStatus.AWAITING_FIRST_RESPONSE:
                raise RuntimeError(f"{view.case_id} is {view.status}")
            return view.case_id

        t0 = time.perf_counter()
        with Progress("opening", cases_n) as progress:
            ids = [str(i) for i in await in_parallel(cases_n, concurrency, counting(progress, open_case))]
        open_seconds = time.perf_counter() - t0
        await asyncio.sleep(5)  # deliveries of the last openings finish; the worker is idle
        rss_open, peak_open = mib(worker.process.pid)

        t1 = time.perf_counter()
        worker.stop()
        stop_seconds = time.perf_counter() - t1
        t2 = time.perf_counter()
        worker = WorkerProcess(env, log, args=())
        await asyncio.to_thread(worker.wait_ready)
        ready_seconds = time.perf_counter() - t2

        timed_out: list[str] = []

        async def read(i: int) -> CaseStatus:
            """A read that times out while the worker catches up is counted and asked again (the
            intake answers it 503, which says to ask again): the case is not lost, only late."""
            handle = stack.env.client.get_workflow_handle(ids[i])
            for _ in range(10):
                try:
                    view = await handle.query(SupportCaseWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
                    return view.status
                except RPCError as error:
                    if error.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                        raise
                    timed_out.append(ids[i])
            raise RuntimeError(f"{ids[i]} did not answer a query in 10 tries")

        with Progress("reading after restart", cases_n) as progress:
            statuses = await in_parallel(cases_n, concurrency, counting(progress, read))
        back_seconds = time.perf_counter() - t2
        rss_back, peak_back = mib(worker.process.pid)
        worker.stop()

    waiting = sum(s is CaseStatus.AWAITING_FIRST_RESPONSE for s in statuses)
    return {
        "benchmark": "idle_cases",
        "cases": cases_n,
        "worker_cache_max": cache,
        "opened_per_s": round(cases_n / open_seconds, 1),
        "openings_not_decided_in_15s": len(set(retried)),
        "worker_rss_ready_mib": rss_ready,
        "worker_rss_idle_mib": rss_open,
        "worker_rss_peak_mib": peak_open,
        # The worker keeps at most `cache` cases in memory; the rest live on the server only.
        "worker_rss_per_cached_case_kib": round((rss_open - rss_ready) * 1024 / min(cases_n, cache), 1),
        "graceful_stop_s": round(stop_seconds, 2),
        "restart_ready_s": round(ready_seconds, 2),
        "all_back_s": round(back_seconds, 2),
        "replayed_per_s": round(cases_n / max(back_seconds - ready_seconds, 1e-9), 1),
        "still_waiting_after_restart": waiting,
        "reads_timed_out_after_restart": len(timed_out),
        "worker_rss_back_mib": rss_back,
        "worker_rss_back_peak_mib": peak_back,
        "cpus": os.cpu_count(),
        "tuning": tuning_env(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=5000, help="open cases (default 5000)")
    parser.add_argument("--concurrency", type=int, default=50, help="openings and reads at once (default 50)")
    parser.add_argument(
        "--cache",
        type=int,
        default=1000,
        help="the worker's max_cached_workflows (default 1000, as deployed)",
    )
    args = parser.parse_args()
    emit("idle_cases", asyncio.run(main(args.cases, args.concurrency, args.cache)))

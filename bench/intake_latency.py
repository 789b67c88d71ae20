"""Intake latency: `POST /cases` at a fixed rate for a fixed time, against `starter.py serve` and
`worker.py` in their own processes on the embedded dev server; in the same run, at the same rate,
a bare `client.start_workflow` of a trivial workflow: the floor of Temporal on this machine.

Open loop: request i is sent at t0 + i/rate whether or not earlier ones have answered, and its
latency counts from that instant, so a stall shows as latency instead of slowing the load down.
`POST /cases` answers once the case is decided (awaiting first response, or refused): its latency
includes the worker loading the tenant and computing the deadlines, not only the start.

`--in-process` serves the API from the worker's own process instead (`worker.py --api`, the shape
of `make run`): the intake then starts cases eagerly, the server handing a new case's first
workflow task straight to the worker on the same client.

Run: `make bench` (short) or `.venv/bin/python -m bench.intake_latency --rate 10 --seconds 30`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
from temporalio.worker import Worker

from adapters.mail_sink import free_port
from bench.bare_workflow import BareWorkflow, bare_step
from bench.report import Progress, emit, latency
from bench.stack import bench_request, bench_stack, tuning_env
from scaffold.processes import NO_LIMITS, ApiProcess, WorkerProcess, wait_healthy, worker_env

NOTHING = {"activities": 0, "timers": 0, "signals": 0, "updates": 0}


async def open_loop(
    rate: float, seconds: float, call: Callable[[int], Awaitable[str | None]], what: str
) -> tuple[list[float], Counter[str], float]:
    """Latencies of the calls that succeeded, errors by kind, and the rate actually offered."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    total = int(rate * seconds)
    progress = Progress(what, total, unit="request")
    t0 = time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        try:
            error = await call(i)
        except Exception as exc:  # a benchmark counts failures, whatever they are
            error = type(exc).__name__
        if error is None:
            latencies.append(time.perf_counter() - scheduled)
        else:
            errors[error] += 1
        progress.advance()

    tasks = []
    for i in range(total):
        scheduled = t0 + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i, scheduled)))
    offered = total / max(time.perf_counter() - t0, 1e-9)
    await asyncio.gather(*tasks)
    progress.close()
    return latencies, errors, offered


async def main(rate: float, seconds: float, in_process: bool) -> dict[str, object]:
    run = uuid.uuid4().hex[:6]
    async with bench_stack() as stack:
        address = stack.env.client.service_client.config.target_host
        env = worker_env(stack.settings, address) | tuning_env()
        api: ApiProcess | None = None
        if in_process:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            api_env = {"CASEWORK_API_PORT": str(port), "CASEWORK_API_TOKENS": "bench-token"} | NO_LIMITS
            worker = WorkerProcess(env | api_env, stack.tmp / "worker.log", args=("--api",))
        else:
            worker = WorkerProcess(env, stack.tmp / "worker.log", args=())
            api = ApiProcess(env, stack.tmp / "api.log", free_port(), token="bench-token")
            url = api.url
        try:
            await asyncio.to_thread(worker.wait_ready)
            if not await asyncio.to_thread(wait_healthy, url):
                raise RuntimeError(f"the API at {url} did not answer")
            async with httpx.AsyncClient(
                base_url=url,
                headers={"Authorization": "Bearer bench-token"},
                timeout=30,
                limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
            ) as http:

                async def post_case(i: int) -> str | None:
                    body = bench_request(f"intake-{run}-{i}", "B").model_dump(mode="json")
                    answer = await http.post("/cases", json=body)
                    if answer.status_code != 201:
                        return f"HTTP {answer.status_code}"
                    status = answer.json()["case"]["status"]
                    return None if status == "awaiting_first_response" else f"case {status}"

                for i in range(5):  # warm-up: connections, caches, the first workflow tasks
                    await post_case(-1 - i)
                api_latencies, api_errors, api_offered = await open_loop(
                    rate, seconds, post_case, "POST /cases"
                )
        finally:
            if api is not None:
                api.stop()
            worker.stop()

        bare_queue = f"bare-{run}"
        client = stack.env.client
        async with Worker(client, task_queue=bare_queue, workflows=[BareWorkflow], activities=[bare_step]):

            async def start_bare(i: int) -> str | None:
                await client.start_workflow(
                    BareWorkflow.run, NOTHING, id=f"bare-{run}-{i}", task_queue=bare_queue
                )
                return None

            for i in range(5):
                await start_bare(-1 - i)
            bare_latencies, bare_errors, bare_offered = await open_loop(
                rate, seconds, start_bare, "bare start_workflow"
            )

    return {
        "benchmark": "intake_latency",
        "rate_per_s": rate,
        "api_in_worker_process": in_process,
        "seconds": seconds,
        "post_cases_offered_per_s": round(api_offered, 2),
        "post_cases_ok": len(api_latencies),
        "post_cases_errors": dict(api_errors),
        "post_cases_ms": latency(api_latencies, unit=1000, digits=1),
        "bare_start_offered_per_s": round(bare_offered, 2),
        "bare_start_ok": len(bare_latencies),
        "bare_start_errors": dict(bare_errors),
        "bare_start_ms": latency(bare_latencies, unit=1000, digits=1),
        "cpus": os.cpu_count(),
        "tuning": tuning_env(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=10, help="requests per second (default 10)")
    parser.add_argument("--seconds", type=float, default=30, help="how long to offer them (default 30)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="serve the API from the worker's process (worker.py --api, as make run), not starter.py serve",
    )
    args = parser.parse_args()
    emit("intake_latency", asyncio.run(main(args.rate, args.seconds, args.in_process)))

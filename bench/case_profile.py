"""Where a case's worker CPU goes: N cases driven as `bench.lifecycle_bench` drives them, against
`worker.py` in its own process sampled by py-spy (`pip install py-spy`; it is in the dev extras),
every sample put in the first category its stack matches (the table's order). Prints the share of
the worker's sampled CPU and the CPU seconds per case of each category.

`--phase replay` profiles a restarted worker bringing idle cases back instead: N cases (severities
A, B, C, the real policy) are opened against a worker, which is stopped; a new one is started and
sampled while every case is read through its workflow (a query), which replays each from history,
as `bench.idle_cases` measures it. The CPU "per case" is then per replayed case.

Run: `.venv/bin/python -m bench.case_profile --cases 300` (py-spy needs to be allowed to read the
worker's memory: root, or ptrace permitted).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path

from application.cases import Cases
from bench.lifecycle_bench import drive_case, in_batches
from bench.report import RESULTS_DIR, emit
from bench.stack import bench_request, bench_stack, tuning_env
from scaffold.policies import fast_policy
from scaffold.processes import WorkerProcess, cpu_seconds, worker_env
from workflows.support_case import SupportCaseWorkflow

# (category, substrings of a stack that put a sample in it), first match wins.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("logging (structlog, logging)", ("structlog", "logging/__init__", "adapters/logging")),
    ("templates (Jinja2, phrase book)", ("jinja2", "adapters/messages", "adapters/phrases")),
    ("email: building and SMTP", ("email/", "aiosmtplib", "adapters/smtp_out", "smtplib")),
    ("database (SQLAlchemy, SQLite)", ("sqlalchemy", "sqlite3", "delivery_ledger", "directory_store")),
    ("payload conversion (temporalio converter)", ("temporalio/converter",)),
    ("case rules (support/)", ("(support/",)),
    ("workflow shell (workflows/)", ("(workflows/",)),
    ("sandbox: import of the workflow module", ("workflow_sandbox/_importer",)),
    ("sandbox: restriction proxies", ("workflow_sandbox/_restrictions",)),
    ("pydantic elsewhere", ("pydantic",)),
    ("SDK: workflow runtime (incl. sandbox runner)", ("temporalio/worker/_workflow", "workflow_sandbox")),
    ("SDK: activity runtime", ("temporalio/worker/_activity", "(activities/")),
    ("SDK: bridge to the Rust core", ("temporalio/bridge", "temporalio/worker/_worker")),
    ("asyncio event loop", ("asyncio/",)),
    ("other", ("",)),
]


IDLE = "_worker (concurrent/futures/thread.py:81)"  # an idle thread-pool thread, waiting for work


def categorise(raw: Path) -> Counter[str]:
    """py-spy's raw output (collapsed stacks, 'frame;frame;... count') as samples per category."""
    samples: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack or stack.endswith(IDLE):
            continue  # no Python frame (the SDK's Rust threads), or a pool thread waiting for work
        category = next(name for name, needles in CATEGORIES if any(n in stack for n in needles))
        samples[category] += int(count)
    return samples


def py_spy() -> str:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: `.venv/bin/pip install py-spy` (it is in the dev extras)")
    return spy


def start_sampling(pid: int, raw: Path, rate: int) -> subprocess.Popen[bytes]:
    """py-spy recording `pid` into `raw` (collapsed stacks) until it is sent SIGINT."""
    command = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)]
    return subprocess.Popen(
        [*command, "--output", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def sampled(pid: int, raw: Path, rate: int, load: Awaitable[object]) -> tuple[float, float]:
    """Run `load` while py-spy samples the worker `pid` into `raw`: its wall seconds and the
    worker's CPU seconds meanwhile."""
    sampler = start_sampling(pid, raw, rate)
    await asyncio.sleep(1)  # py-spy attached
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await load
    seconds, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    sampler.send_signal(signal.SIGINT)
    await asyncio.to_thread(sampler.wait, 60)
    return seconds, cpu


def keep_and_summarise(raw: Path, kept_name: str, cpu: float, per: int) -> dict[str, object]:
    """Samples per category of `raw` (kept under var/bench/ for a closer look) as shares of the
    worker's CPU and CPU seconds per case."""
    samples = categorise(raw)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, RESULTS_DIR / kept_name)
    total = sum(samples.values()) or 1
    per_case = cpu / per
    shares = {name: round(samples[name] / total, 3) for name, _ in CATEGORIES}
    return {
        "worker_cpu_s_per_case": round(per_case, 4),
        "samples": total,
        "share_of_worker_cpu": shares,
        "cpu_s_per_case": {name: round(share * per_case, 4) for name, share in shares.items()},
    }


async def replay_profile(cases_n: int, concurrency: int, rate: int) -> dict[str, object]:
    """A restarted worker bringing `cases_n` idle cases back (each replayed for a query), sampled."""
    py_spy()
    run = uuid.uuid4().hex[:6]
    async with bench_stack() as stack:
        address = stack.env.client.service_client.config.target_host
        env = worker_env(stack.settings, address) | tuning_env()
        log = stack.tmp / "worker.log"
        worker = WorkerProcess(env, log, args=())
        await asyncio.to_thread(worker.wait_ready)
        cases = Cases(stack.env.client, stack.settings.task_queue)
        try:

            async def open_one(i: int) -> str:
                request = bench_request(f"replay-{run}-{i}", "ABC"[i % 3])
                return (await cases.open(request)).case.case_id

            ids = [str(i) for i in await in_batches(cases_n, concurrency, open_one)]
            await asyncio.sleep(5)  # the last openings' deliveries finish
        finally:
            worker.stop()
        worker = WorkerProcess(env, log, args=())
        raw = stack.tmp / "replay-profile.txt"
        try:
            await asyncio.to_thread(worker.wait_ready)

            async def read(i: int) -> object:
                return await stack.env.client.get_workflow_handle(ids[i]).query(SupportCaseWorkflow.view)

            load = in_batches(cases_n, concurrency, read)
            seconds, cpu = await sampled(worker.process.pid, raw, rate, load)
        finally:
            worker.stop()
        profile = keep_and_summarise(raw, "case_profile_replay.raw.txt", cpu, cases_n)
    return {
        "benchmark": "case_profile",
        "phase": "replay",
        "cases": cases_n,
        "replayed_per_s": round(cases_n / seconds, 2),
        **profile,
    }


async def main(cases_n: int, concurrency: int, rate: int) -> dict[str, object]:
    py_spy()
    with tempfile.TemporaryDirectory() as policy_dir:
        async with bench_stack(fast_policy(Path(policy_dir))) as stack:
            address = stack.env.client.service_client.config.target_host
            run = uuid.uuid4().hex[:6]
            worker = WorkerProcess(worker_env(stack.settings, address), stack.tmp / "worker.log", args=())
            raw = stack.tmp / "profile.txt"
            try:
                await asyncio.to_thread(worker.wait_ready)
                cases = Cases(stack.env.client, stack.settings.task_queue)
                await drive_case(cases, -1, run)  # warm-up
                load = in_batches(cases_n, concurrency, lambda i: drive_case(cases, i, run))
                seconds, cpu = await sampled(worker.process.pid, raw, rate, load)
            finally:
                worker.stop()
            profile = keep_and_summarise(raw, "case_profile.raw.txt", cpu, cases_n)
    return {
        "benchmark": "case_profile",
        "phase": "lifecycle",
        "cases": cases_n,
        "cases_per_s": round(cases_n / seconds, 2),
        **profile,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument(
        "--phase",
        choices=("lifecycle", "replay"),
        default="lifecycle",
        help="what the sampled worker does: drive cases (default), or replay idle ones after a restart",
    )
    args = parser.parse_args()
    if args.phase == "replay":
        concurrency = min(args.concurrency, 50)  # openings and reads at once, as bench.idle_cases
        emit("case_profile_replay", asyncio.run(replay_profile(args.cases, concurrency, args.rate)))
    else:
        emit("case_profile", asyncio.run(main(args.cases, args.concurrency, args.rate)))

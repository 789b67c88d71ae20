"""Where a cached idle case's memory goes: N cases opened against a worker in this process (the
real policy, severities A, B, C in turn, left waiting on their timers), the process's RSS and
Python's own allocations (tracemalloc, by the file that allocated) measured before and after.
What Python does not allocate itself (the SDK's Rust core keeping each cached run, the
allocator's slack) is the RSS less the traced part. `--unsandboxed` runs the same worker without
the workflow sandbox, to show what the sandbox's per-case copy of the workflow module costs
(casework itself always runs sandboxed).

The RSS a case adds is measured over N openings without tracemalloc (which keeps a trace of every
block, in RSS too), Python's allocations over N more with it.

Run: `.venv/bin/python -m bench.case_memory --cases 300` (tracemalloc slows the worker down:
keep N small; `bench.idle_cases` measures RSS per case at full size without it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tracemalloc
import uuid
from collections import Counter
from pathlib import Path

import bootstrap.worker_runtime as worker_runtime
from application.cases import Cases, Unavailable
from bench.report import Progress, counted, emit
from bench.stack import bench_request, bench_stack

KIB = 1024
# (group, substrings of the allocating file), first match wins.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    (
        "the sandbox's fresh import of the workflow module",
        ("importlib", "workflow_sandbox", "inspect.py", "typing.py"),
    ),
    (
        "workflow definitions (handlers, the class) made by that import",
        ("temporalio/workflow/", "/workflows/"),
    ),
    ("the case's state decoded from payloads (pydantic)", ("pydantic",)),
    ("the case's calendars (parsed windows, holidays)", ("/support/sla_clocks/calendar.py",)),
    ("the case's rules and view (support/)", ("/support/",)),
    ("the SDK's workflow instance", ("temporalio/worker/", "temporalio/common", "temporalio/converter")),
    ("other Python", ("",)),
]


def rss_kib() -> int:
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc")


async def main(cases_n: int, unsandboxed: bool) -> dict[str, object]:
    if unsandboxed:
        from temporalio.worker import UnsandboxedWorkflowRunner

        setattr(worker_runtime, "WORKFLOW_RUNNER", UnsandboxedWorkflowRunner())  # noqa: B010
    run = uuid.uuid4().hex[:6]
    async with bench_stack() as stack, worker_runtime.build_worker(stack.env.client, stack.settings):
        cases = Cases(stack.env.client, stack.settings.task_queue)
        for i in range(5):  # warm-up: imports, caches, connections
            await cases.open(bench_request(f"warm-{run}-{i}", "ABC"[i % 3]))
        await asyncio.sleep(3)
        semaphore = asyncio.Semaphore(10)

        async def one(i: int) -> None:
            """Like an intake: a 503 (not decided in 15 s, as on a loaded box) is sent again."""
            async with semaphore:
                for _ in range(10):
                    try:
                        await cases.open(bench_request(f"mem-{run}-{i}", "ABC"[i % 3]))
                        return
                    except Unavailable:
                        continue
                raise RuntimeError(f"mem-{run}-{i} was never decided")

        # First N cases without tracemalloc (it keeps a trace per block, which RSS would count),
        # for the RSS a case adds; then N more with it, for what Python allocated for each.
        gc.collect()
        rss_before = rss_kib()
        with Progress("opening (RSS)", cases_n) as progress:
            await asyncio.gather(*(counted(progress, one(i)) for i in range(cases_n)))
        await asyncio.sleep(8)  # the last openings' deliveries finish
        gc.collect()
        rss_after = rss_kib()
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
        with Progress("opening (traced)", cases_n) as progress:
            await asyncio.gather(*(counted(progress, one(cases_n + i)) for i in range(cases_n)))
        await asyncio.sleep(8)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    by_file = after.compare_to(before, "filename")
    groups: Counter[str] = Counter()
    for stat in by_file:
        name = stat.traceback[0].filename
        group = next(g for g, needles in GROUPS if any(n in name for n in needles))
        groups[group] += stat.size_diff
    traced = sum(groups.values())
    rss = (rss_after - rss_before) * KIB
    return {
        "benchmark": "case_memory",
        "cases": cases_n,
        "sandboxed": not unsandboxed,
        "rss_kib_per_case": round(rss / KIB / cases_n, 1),
        "python_traced_kib_per_case": round(traced / KIB / cases_n, 1),
        "outside_python_kib_per_case": round((rss - traced) / KIB / cases_n, 1),
        "python_kib_per_case_by_group": {g: round(groups[g] / KIB / cases_n, 1) for g, _ in GROUPS},
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument(
        "--unsandboxed", action="store_true", help="run the worker without the sandbox (a reference)"
    )
    args = parser.parse_args()
    emit("case_memory", asyncio.run(main(args.cases, args.unsandboxed)))

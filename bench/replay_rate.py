"""Replays per second of the worker's workflow code, without a server: every recorded history in
tests/histories (25 cases, their runs) replayed `--rounds` times through the SDK's Replayer with
the worker's own sandboxed runner (`bootstrap.worker_runtime.WORKFLOW_RUNNER`), timed by this
process's CPU time as well as the wall clock. A replay after a worker restart is exactly this
work (history in, activations, the sandbox's fresh import of the module), less the server's
fetch; counting CPU rather than wall time keeps the figure readable on a shared box.

`--profile` runs the same under cProfile and prints where the CPU goes by category (py-spy is
not needed).

`--runner sdk-sandbox` replays with the SDK's sandbox as it comes, `--runner unsandboxed` with none
(a reference only), for a before and after in the same session.

Run: `.venv/bin/python -m bench.replay_rate --rounds 8` (a few seconds a round).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from adapters.settings import PROJECT_ROOT
from bench.report import emit
from bootstrap.worker_runtime import WORKFLOW_RUNNER, compile_sandboxed_modules
from interfaces.cli.history import load_json
from workflows.support_case import SupportCaseWorkflow

HISTORIES = PROJECT_ROOT / "tests" / "histories"

# (category, substrings of a function's file), first match wins; a function's own time only.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("sandbox: import machinery", ("workflow_sandbox/_importer", "importlib", "<frozen importlib")),
    ("sandbox: restriction proxies", ("workflow_sandbox/_restrictions",)),
    (
        "workflow definitions (@workflow.defn, handlers)",
        ("temporalio/workflow.py", "inspect.py", "typing.py"),
    ),
    ("workflow shell (workflows/)", ("/workflows/",)),
    ("case rules (support/)", ("/support/",)),
    ("payload conversion", ("temporalio/converter", "pydantic", "json/")),
    ("SDK: workflow runtime", ("temporalio/worker/",)),
    ("asyncio", ("asyncio/",)),
    ("other", ("",)),
]


def recorded() -> list[WorkflowHistory]:
    runs: list[WorkflowHistory] = []
    for path in sorted(HISTORIES.glob("*.json")):
        runs += load_json(path.read_text(encoding="utf-8"), path.stem)
    return runs


async def replay_all(replayer: Replayer, runs: list[WorkflowHistory], rounds: int) -> int:
    """Every run `rounds` times; the number of replays that diverged (0 when the code is sound)."""

    async def each() -> AsyncIterator[WorkflowHistory]:
        for _ in range(rounds):
            for run in runs:
                yield run

    failed = 0
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            failed += result.replay_failure is not None
    return failed


def by_category(profile: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profile)
    shares: Counter[str] = Counter()
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        category = next(c for c, needles in CATEGORIES if any(n in filename for n in needles))
        shares[category] += own
    total = sum(shares.values()) or 1.0
    return {c: round(100 * s / total, 1) for c, s in shares.most_common()}


RUNNERS: dict[str, WorkflowRunner] = {
    "worker": WORKFLOW_RUNNER,  # what worker.py runs
    "sdk-sandbox": SandboxedWorkflowRunner(),  # the SDK's sandbox as it comes (the "before")
    "unsandboxed": UnsandboxedWorkflowRunner(),  # a reference only: casework always runs sandboxed
}


async def main(rounds: int, profile: bool, runner: str) -> dict[str, object]:
    runs = recorded()
    with tempfile.TemporaryDirectory() as var:
        compile_sandboxed_modules(Path(var))  # as the worker does at start: no case compiles it
        replayer = Replayer(
            workflows=[SupportCaseWorkflow],
            data_converter=pydantic_data_converter,
            workflow_runner=RUNNERS[runner],
        )
        return await measured(replayer, runs, rounds, profile, runner)


async def measured(
    replayer: Replayer, runs: list[WorkflowHistory], rounds: int, profile: bool, runner: str
) -> dict[str, object]:
    await replay_all(replayer, runs, 1)  # warm-up: imports, the sandbox's first preparation
    profiler = cProfile.Profile() if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    failed = await replay_all(replayer, runs, rounds)
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    replays = rounds * len(runs)
    events = rounds * sum(len(run.events) for run in runs)
    result: dict[str, object] = {
        "benchmark": "replay_rate",
        "runs_recorded": len(runs),
        "replays": replays,
        "diverged": failed,
        "events_per_replay": round(events / replays, 1),
        "cpu_ms_per_replay": round(1000 * cpu / replays, 2),
        "replays_per_cpu_s": round(replays / cpu, 1),
        "replays_per_wall_s": round(replays / wall, 1),
        "load_average": os.getloadavg(),
        "profiled": profile,
        "runner": runner,
    }
    if profiler is not None:
        result["cpu_share_by_category_pct"] = by_category(profiler)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="under cProfile, with the shares")
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="worker", help="default: the worker's")
    args = parser.parse_args()
    emit("replay_rate", asyncio.run(main(args.rounds, args.profile, args.runner)))

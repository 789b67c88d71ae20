"""The worker's sandbox refuses non-deterministic calls in workflow code (a sandbox that passes
every module through, tried for memory, let this one run)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from bootstrap.worker_runtime import WORKFLOW_RUNNER, compile_sandboxed_modules
from bootstrap.workflow_sandbox import CompiledSandboxRunner, compiled
from interfaces.cli.history import load_json
from tests.clock_reading_workflow import ReadsTheClock
from workflows.support_case import SupportCaseWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"


async def test_the_workers_sandbox_refuses_the_wall_clock(time_env: WorkflowEnvironment) -> None:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        time_env.client, task_queue=queue, workflows=[ReadsTheClock], workflow_runner=WORKFLOW_RUNNER
    ):
        handle = await time_env.client.start_workflow(ReadsTheClock.run, id=queue, task_queue=queue)
        failure = ""
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
            if failed:
                failure = failed[0].workflow_task_failed_event_attributes.failure.message
                break
            await asyncio.sleep(0.05)
    assert "datetime.datetime.now" in failure, failure


def test_the_workflow_module_is_compiled_once_for_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox imports the workflow module afresh for every case; its bytecode is compiled once
    into the worker's var/pycache, so no case compiles the source again, whatever the machine's
    PYTHONDONTWRITEBYTECODE."""
    monkeypatch.setattr(sys, "pycache_prefix", sys.pycache_prefix)  # restored after the test
    written = compile_sandboxed_modules(tmp_path)
    assert written and all(path.is_relative_to(tmp_path / "pycache") and path.exists() for path in written)
    source = sys.modules[SupportCaseWorkflow.__module__].__file__
    assert source is not None
    assert Path(importlib.util.cache_from_source(source)) in written, "where the importer looks first"


async def test_the_workers_sandbox_replays_a_recorded_case_and_converts_its_payloads_in_context() -> None:
    """The worker's runner (bootstrap.workflow_sandbox) reaches into the SDK's private sandbox
    instance: a recorded case with activities, timers and updates replays through it, and each
    payload is converted in its command's context (asked without entering the sandbox)."""
    history = HISTORIES / "thread_messages_kept.json"
    runs = load_json(history.read_text(encoding="utf-8"), history.stem)
    replayer = Replayer(
        workflows=[SupportCaseWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=WORKFLOW_RUNNER,
    )
    for run in runs:
        result = await replayer.replay_workflow(run, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
    assert isinstance(WORKFLOW_RUNNER, CompiledSandboxRunner)
    assert compiled.cache_info().hits > 0, "the sandbox was entered with code compiled once"

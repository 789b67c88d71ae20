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
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bootstrap.worker_runtime import WORKFLOW_RUNNER, compile_sandboxed_modules
from tests.clock_reading_workflow import ReadsTheClock
from workflows.support_case import SupportCaseWorkflow


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

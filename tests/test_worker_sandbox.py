"""The worker's sandbox refuses non-deterministic calls in workflow code (a sandbox that passes
every module through, tried for memory, let this one run)."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bootstrap.worker_runtime import WORKFLOW_RUNNER
from tests.clock_reading_workflow import ReadsTheClock


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

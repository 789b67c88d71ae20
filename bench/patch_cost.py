"""What a patch costs a new workflow (issue 26): three workflows on the dev server, with no patch,
three `workflow.patched` calls, and three `workflow.deprecate_patch` calls; for each, its events,
markers and search-attribute upserts. The answer decided `workflows/patches.py`.

Run: `.venv/bin/python -m bench.patch_cost` (a few seconds)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.report import emit
from scaffold.local_stack import start_local_server

PATCHES = 3


@workflow.defn
class NoPatch:
    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn
class Patched:
    @workflow.run
    async def run(self) -> None:
        for i in range(PATCHES):
            workflow.patched(f"patch-{i}")


@workflow.defn
class Deprecated:
    @workflow.run
    async def run(self) -> None:
        for i in range(PATCHES):
            workflow.deprecate_patch(f"patch-{i}")


async def main() -> dict[str, object]:
    env = await start_local_server()
    figures: dict[str, object] = {"benchmark": "patch_cost", "patches": PATCHES}
    try:
        queue = f"patch-cost-{uuid.uuid4().hex[:6]}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[NoPatch, Patched, Deprecated],
            workflow_runner=UnsandboxedWorkflowRunner(),  # trivial bodies: nothing to protect
        ):
            for defn in (NoPatch, Patched, Deprecated):
                handle = await env.client.start_workflow(
                    defn.run, id=f"{defn.__name__}-{uuid.uuid4().hex[:6]}", task_queue=queue
                )
                await handle.result()
                events = (await handle.fetch_history()).events
                kinds = Counter(EventType.Name(e.event_type) for e in events)
                figures[defn.__name__] = {
                    "events": len(events),
                    "markers": kinds["EVENT_TYPE_MARKER_RECORDED"],
                    "upserts": kinds["EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"],
                    "history_bytes": sum(e.ByteSize() for e in events),
                }
    finally:
        await env.shutdown()
    return figures


if __name__ == "__main__":
    emit("patch_cost", asyncio.run(main()))

"""The bare floor's worker, in its own process like `worker.py`, so that the lifecycle benchmark
measures both under the same conditions (tuning included) and reads each one's CPU time."""

from __future__ import annotations

import asyncio
import os
import signal

from temporalio.client import Client
from temporalio.worker import Worker

from adapters.settings import Settings
from bench.bare_workflow import BareWorkflow, bare_step
from bootstrap.worker_runtime import worker_tuning


async def main() -> None:
    settings = Settings()
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[BareWorkflow],
        activities=[bare_step],
        **worker_tuning(settings),
    ):
        print("bare worker is running. Press Ctrl-C to stop.", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    os._exit(0)  # temporalio/sdk-python#300: skip interpreter teardown

"""Runs the worker: embedded dev server (or an existing cluster), search attributes, the worker."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from service.logging import configure_logging, get_logger
from service.settings import Settings
from service.temporal import cluster_config, embedded_dev_server, register_search_attributes
from service.worker_runtime import build_worker

log = get_logger("casework.worker")


def _banner(settings: Settings, address: str, embedded: bool) -> str:
    lines = ["", "casework worker is running"]
    if embedded:
        lines += [
            f"  Temporal dev server : {address} (persisted in {settings.dev_server_db})",
            f"  Temporal web UI     : http://localhost:{settings.ui_port}",
        ]
    else:
        lines.append(f"  Temporal cluster    : {address}")
    lines += [
        f"  task queue          : {settings.task_queue}",
        f"  policy              : {settings.policy_path}",
        f"  notifications       : {settings.outbox_path}",
        "",
        "Open a case from another terminal:",
        "  .venv/bin/python starter.py open --tenant contoso --requester admin@contoso.example \\",
        "      --category technical --severity A --title 'Mail is down' \\",
        "      --description 'No mail since 9:00' --email admin@contoso.example",
        "  .venv/bin/python starter.py list",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


async def run_worker(settings: Settings) -> None:
    configure_logging(settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        cluster = cluster_config()
        if cluster is None:
            env = await stack.enter_async_context(embedded_dev_server(settings))
            client = env.client
            address = f"localhost:{settings.dev_server_port}"
        else:
            client = await Client.connect(**cluster, data_converter=pydantic_data_converter)
            address = str(cluster.get("target_host"))
        added = await register_search_attributes(client)
        if added:
            log.info("registered search attributes", names=added)
        worker = build_worker(client, settings)
        runner = asyncio.create_task(worker.run())
        print(_banner(settings, address, embedded=cluster is None), flush=True)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([runner, stopped], return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            log.info("stopping: finishing running tasks")
            await worker.shutdown()
        await runner
    log.info("stopped")

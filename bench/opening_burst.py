"""What a burst of openings waits on: the calm phase of tests/faults/test_hostile_mail.py
(customers, ten at a time: `POST /cases`, `POST /cases/{id}/respond`, `GET /cases/{id}`), against
`worker.py --api` in its own process on the dev server, with the figures of each request kind
(p50, max) and the CPU seconds the worker and the dev server spent per customer.

`--profile FILE` samples the worker with py-spy meanwhile (raw stacks of the thread holding the
interpreter lock, `py-spy record --gil -f raw`). The worker gets the tuning variables set here
(`bench.stack.tuning_env`, e.g. CASEWORK_MAX_CONCURRENT_WORKFLOW_TASKS), and nothing else of the
caller's CASEWORK_ environment. One run says little on a shared machine: two runs of the same code
a minute apart differed twofold (bench/README.md, Hostile mail).

Run: `.venv/bin/python -m bench.opening_burst --customers 25 --concurrency 10`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

import httpx

from adapters.mail_sink import MailSink, free_port
from bench.case_profile import py_spy
from bench.stack import tuning_env
from scaffold.local_stack import local_settings, start_local_server
from scaffold.processes import NO_LIMITS, WorkerProcess, cpu_seconds, dev_server_pid, worker_env
from tests.requests import case_request

TENANT = "fabrikam"
PORTAL, AGENT = "portal-token-fabrikam-burst", "agent-token-li-wei-burst"
KEYS = f"""
[[keys]]
name = "fabrikam-portal"
token = "{PORTAL}"
role = "portal"
tenants = ["fabrikam"]

[[keys]]
name = "li.wei"
token = "{AGENT}"
role = "agent"
"""


async def burst(
    customers: int, concurrency: int, profile: Path | None, warm: int, keep_log: Path | None
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        sink = MailSink(root / "mail").start()
        env = await start_local_server()
        try:
            settings = local_settings(root / "var", sink, task_queue=f"burst-{uuid.uuid4().hex[:6]}")
            keys = root / "keys.toml"
            keys.write_text(KEYS)
            api_port = free_port()
            worker_vars = (
                worker_env(settings, env.client.service_client.config.target_host)
                | NO_LIMITS
                | tuning_env()
                | {"CASEWORK_API_PORT": str(api_port), "CASEWORK_API_KEYS": str(keys)}
            )
            worker = WorkerProcess(worker_vars, root / "worker.log", args=("--api",))
            try:
                await asyncio.to_thread(worker.wait_ready)
                address = env.client.service_client.config.target_host
                await drive(worker, api_port, customers, concurrency, profile, warm, address)
            finally:
                worker.stop()
                if keep_log is not None:
                    await asyncio.to_thread(shutil.copyfile, root / "worker.log", keep_log)
        finally:
            await env.shutdown()
            sink.stop()


async def drive(
    worker: WorkerProcess,
    api_port: int,
    customers: int,
    concurrency: int,
    profile: Path | None,
    warm: int,
    address: str,
) -> None:
    waits: dict[str, list[float]] = {}
    run = uuid.uuid4().hex[:6]
    limits = httpx.Limits(keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=60, limits=limits) as http:

        async def timed(kind: str, call: Awaitable[httpx.Response]) -> httpx.Response:
            started = time.monotonic()
            answer = await call
            waits.setdefault(kind, []).append(time.monotonic() - started)
            return answer

        async def customer(i: int, slots: asyncio.Semaphore) -> None:
            async with slots:
                request = case_request(f"burst-{run}-{i}", TENANT, severity="B").model_dump(mode="json")
                opened = await timed(
                    "POST /cases",
                    http.post("/cases", json=request, headers={"Authorization": f"Bearer {PORTAL}"}),
                )
                assert opened.status_code == 201, opened.text
                case_id = opened.json()["case"]["case_id"]
                responded = await timed(
                    "POST /cases/{id}/respond",
                    http.post(
                        f"/cases/{case_id}/respond",
                        json={"message": "Looking at it"},
                        headers={"Authorization": f"Bearer {AGENT}"},
                    ),
                )
                assert responded.status_code == 200, responded.text
                shown = await timed(
                    "GET /cases/{id}",
                    http.get(f"/cases/{case_id}", headers={"Authorization": f"Bearer {PORTAL}"}),
                )
                assert shown.status_code == 200, shown.text

        slots = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(customer(-1 - i, slots) for i in range(warm)))  # imports, caches
        waits.clear()
        server = dev_server_pid(address)
        pid = worker.process.pid
        cpu_before = cpu_seconds(pid), cpu_seconds(server) if server else 0.0
        load_before = os.getloadavg()
        spy = None
        if profile is not None:
            sampling = ("record", "-r", "200", "--gil", "-f", "raw", "--nonblocking")
            spy = await asyncio.create_subprocess_exec(
                py_spy(),
                *sampling,
                "-o",
                str(profile),
                "-p",
                str(pid),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.sleep(1.0)
        began = time.monotonic()
        await asyncio.gather(*(customer(i, slots) for i in range(customers)))
        took = time.monotonic() - began
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await asyncio.wait_for(spy.wait(), 30)
        cpu_after = cpu_seconds(pid), cpu_seconds(server) if server else 0.0
    load_after = os.getloadavg()
    print(
        f"{customers} customers, {concurrency} at a time: {took:.1f} s; "
        f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    print(
        f"CPU per customer: worker {(cpu_after[0] - cpu_before[0]) / customers * 1000:.0f} ms, "
        f"dev server {(cpu_after[1] - cpu_before[1]) / customers * 1000:.0f} ms"
    )
    for kind, seen in sorted(waits.items()):
        seen.sort()
        print(
            f"{kind}: {len(seen)}, p50 {statistics.median(seen) * 1000:.0f} ms, max {seen[-1] * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--warm", type=int, default=3, help="customers served first, not measured")
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--keep-log", type=Path, default=None, help="copy the worker's log here")
    args = parser.parse_args()
    asyncio.run(burst(args.customers, args.concurrency, args.profile, args.warm, args.keep_log))


if __name__ == "__main__":
    main()

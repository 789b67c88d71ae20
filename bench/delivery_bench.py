"""Notifications per second through the delivery activity, and the connections and commits they cost.

Run: `.venv/bin/python -m bench.delivery_bench --count 300 --concurrency 10`. N notifications go
through DeliveryActivities.deliver (render, ledger check, SMTP, ledger write), C at a time, against a
local aiosmtpd server that counts connections (one EHLO each) and a SQLite ledger in a fresh file
under var/bench/ (on disk, as a worker's is: a commit's fsync is part of the cost). Then the ledger
alone: `--count` sequential writes. Prints a table and a JSON line, saved as var/bench/delivery.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import event

from activities.delivery import DeliveryActivities, DeliveryConfig
from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger
from adapters.mail_sink import free_port
from adapters.messages import Renderer
from adapters.settings import PROJECT_ROOT, Settings
from bench.report import emit, latency
from support.messaging.notifications import Audience, Notification


class _Counting:
    """Takes every message; counts connections and messages."""

    def __init__(self) -> None:
        self.connections = 0
        self.messages = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        return "250 Message accepted for delivery"


def _notice(run: str, n: int) -> Notification:
    return Notification(
        notification_id=f"case-{run}-{n}/follow_up/0/engineer",
        case_id=f"case-{run}-{n}",
        event="follow_up",
        template="follow_up",
        audience=Audience.ENGINEER,
        time_zone="Europe/Budapest",
        engineer="mallory",  # not in the (empty) staff list: the support queue's address
        facts={"engineer": "mallory", "severity": "B", "title": "Teams calls drop"},
    )


async def _deliveries(settings: Settings, port: int, count: int, concurrency: int) -> dict[str, object]:
    engine = open_database(settings)
    commits = [0]

    @event.listens_for(engine, "commit")
    def _commit(connection: object) -> None:
        commits[0] += 1

    activities = DeliveryActivities(
        DeliveryConfig(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"),
        DeliveryLedger(engine),
        Renderer(PROJECT_ROOT / "templates"),
    )
    slots = asyncio.Semaphore(concurrency)
    took: list[float] = []

    async def one(n: int) -> None:
        async with slots:
            began = time.perf_counter()
            await activities.deliver(_notice("d", n))
            took.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    elapsed = time.perf_counter() - began
    close = getattr(activities, "close", None)  # a version without kept connections has none
    if close is not None:
        await close()
    engine.dispose()
    return {
        "deliveries_per_s": round(count / elapsed, 1),
        "delivery_latency_ms": latency(took, unit=1000, digits=1),
        "ledger_commits": commits[0],
    }


def _ledger_writes(settings: Settings, count: int) -> float:
    engine = open_database(settings)
    ledger = DeliveryLedger(engine)
    began = time.perf_counter()
    for n in range(count):
        ledger.record(f"w-{n}", f"case-w-{n}", "follow_up", "email", "sent", "")
    elapsed = time.perf_counter() - began
    engine.dispose()
    return round(count / elapsed, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="notifications (and ledger writes)")
    parser.add_argument("--concurrency", type=int, default=10, help="deliveries at once")
    args = parser.parse_args()
    handler = _Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    root = PROJECT_ROOT / "var" / "bench"
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="delivery-", dir=root))
    try:
        settings = Settings(var_dir=scratch, database_url=None)
        summary: dict[str, object] = {"benchmark": "delivery", "python": sys.version.split()[0]}
        summary |= {"count": args.count, "concurrency": args.concurrency}
        summary |= asyncio.run(_deliveries(settings, controller.port, args.count, args.concurrency))
        summary |= {"smtp_connections": handler.connections, "emails": handler.messages}
        writes = [_ledger_writes(settings, args.count) for _ in range(3)]
        summary |= {"ledger_writes_per_s": statistics.median(writes)}
    finally:
        controller.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    emit("delivery", summary)


if __name__ == "__main__":
    main()

"""Deadline burst: M cases whose first-response deadlines fall in the same second. Prints the
lateness of breach handling: when the escalation notification went out (the delivery ledger's
record) minus the deadline, p50 / p99 / max.

The cases are opened while their calendar is still closed; it opens at one instant T for all of
them, so every deadline is T + 1 s of business time, exactly, by the calendar's own rules.
Run: `make bench` (short) or `.venv/bin/python -m bench.deadline_burst --cases 1000`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from adapters.database import open_database
from adapters.schema import deliveries
from bench.report import Progress, counted, emit, latency
from bench.stack import bench_request, bench_stack
from bootstrap.worker_runtime import build_worker
from intake.cases import Cases
from scaffold.policies import FAST_CALENDAR, fast_policy_model, policy_toml
from support.calendar import WEEKDAYS
from support.policy import Policy, policy_from_dict


def burst_policy_model(opens_at: datetime) -> Policy:
    """The fast policy with a 1 s first-response target, its 24x7 calendar replaced by one in UTC
    that opens every day at `opens_at`'s time of day (and stays open until midnight)."""
    fast = fast_policy_model(first_response="1s")
    window = [f"{opens_at:%H:%M:%S}-24:00"]
    calendar = fast.calendars[FAST_CALENDAR].model_copy(
        update={"time_zone": "UTC", "hours": dict.fromkeys(WEEKDAYS, window)}
    )
    policy = fast.model_copy(update={"calendars": fast.calendars | {FAST_CALENDAR: calendar}})
    # model_copy does not validate (nor rebuild the calendar's parsed windows): validate the whole.
    return policy_from_dict(policy.model_dump(mode="json"), "burst policy")


def burst_policy(directory: Path, opens_at: datetime) -> Path:
    """The burst policy as a file in `directory`, for the worker."""
    path = directory / "burst-policy.toml"
    path.write_text(policy_toml(burst_policy_model(opens_at)), encoding="utf-8")
    return path


async def main(cases_n: int, concurrency: int) -> dict[str, object]:
    # Open the cases within the lead time; T must stay on today's UTC date.
    lead = timedelta(seconds=max(20, cases_n // 8))
    opens_at = (datetime.now(UTC) + lead).replace(microsecond=0)
    if opens_at.date() != datetime.now(UTC).date():
        raise SystemExit("too close to midnight UTC for this benchmark; run it again in a few minutes")
    deadline = opens_at + timedelta(seconds=1)
    async with bench_stack() as stack:
        stack.settings = dataclasses.replace(stack.settings, policy_path=burst_policy(stack.tmp, opens_at))
        run = uuid.uuid4().hex[:6]
        async with build_worker(stack.env.client, stack.settings):
            cases = Cases(stack.env.client, stack.settings.task_queue)
            semaphore = asyncio.Semaphore(concurrency)

            async def open_one(i: int) -> str:
                async with semaphore:
                    view = (await cases.open(bench_request(f"burst-{run}-{i}", "A"))).case
                    assert view.first_response is not None and view.first_response.due == deadline, (
                        view.first_response
                    )
                    return view.case_id

            with Progress("opening", cases_n) as progress:
                ids = await asyncio.gather(*(counted(progress, open_one(i)) for i in range(cases_n)))
            opened_by = datetime.now(UTC)
            if opened_by >= opens_at:
                raise SystemExit(f"opening took too long ({opened_by - opens_at} past T); use fewer cases")
            engine = open_database(stack.settings)
            escalated = Progress("escalations", cases_n)
            for _ in range(1200):
                with engine.connect() as connection:
                    rows = connection.execute(
                        select(deliveries.c.case_id, deliveries.c.recorded_at).where(
                            deliveries.c.event == "sla_breached",
                            deliveries.c.notification_id.like("%/duty_manager"),
                            deliveries.c.status == "sent",
                        )
                    ).all()
                escalated.reach(len(rows))
                if len(rows) >= cases_n:
                    break
                await asyncio.sleep(0.25)
            escalated.close()
    late = [((at if at.tzinfo else at.replace(tzinfo=UTC)) - deadline).total_seconds() for _, at in rows]
    return {
        "benchmark": "deadline_burst",
        "cases": cases_n,
        "deadline": deadline.isoformat(),
        "escalations": len(rows),
        "lateness_s": latency(late),
        "cases_opened": len(ids),
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    emit("deadline_burst", asyncio.run(main(args.cases, args.concurrency)))

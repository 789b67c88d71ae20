"""Calls per second of Calendar.add for 1 hour, 1 business day and 1 year of business time.

Run: `make bench` (or `.venv/bin/python -m bench.calendar_bench --seconds 2`). Prints a table and a
JSON summary. Starts rotate through 1,200 instants spread over a year, on the snapshot calendars of
policy.toml (product: 09:00-24:00 every day; billing: Mon-Fri 09:00-18:00 with PRC holidays).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from bench.report import emit
from support.sla_clocks.calendar import Calendar


def rate(calendar: Calendar, amount: timedelta, starts: list[datetime], seconds: float) -> float:
    calls = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        for start in starts[:50]:
            calendar.add(start, amount)
        calls += 50
        starts = starts[50:] + starts[:50]
    return calls / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    policy = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [base + timedelta(hours=7 * i + 0.37 * i) for i in range(1200)]
    results = []
    for name in ("product", "billing"):
        for label, amount in (
            ("1 hour", timedelta(hours=1)),
            ("1 business day", policy.calendars[name].business_day_length),
            ("1 year", timedelta(days=365)),
        ):
            calendar = Calendar.model_validate(policy.calendars[name].model_dump())
            per_second = rate(calendar, amount, starts, args.seconds)
            results.append({"calendar": name, "amount": label, "calls_per_s": round(per_second)})
    print(f"{'calendar':<10} {'amount':<16} {'calls/s':>10}")
    for row in results:
        print(f"{row['calendar']:<10} {row['amount']:<16} {row['calls_per_s']:>10}")
    emit(
        "calendar_bench",
        {"benchmark": "calendar_add", "python": sys.version.split()[0], "results": results},
        table=False,
    )


if __name__ == "__main__":
    main()

"""How fast the workspace's pages render with 5,000 open cases (issue #24: each under 300 ms).

The pages read the console's projection and search index (adapters.console_cases), so the cases
are seeded directly there (and 500 ended ones in closed_cases), sealed with a key ring as a keyed
installation keeps them; no workflow is started. Each page is asked over HTTP (ASGI, in process)
as a signed-in engineer, 30 times after a warm-up: every view, a page further on, a search by a
word of the thread (Latin and Chinese), a case number, and the dashboard.

    .venv/bin/python -m bench.console_pages [--cases 5000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert, text

from adapters.codec import KeyRing, new_key, sealed_text
from adapters.console_cases import ConsoleCases
from adapters.schema import closed_cases, console_cases

TENANTS = ("contoso", "fabrikam", "tailspin", "wingtip", "northwind")
STAFF = ("li.wei", "zhang.min", "somebody.else", None, None)
WORDS = ("printer", "mailbox", "login", "invoice", "timeout", "certificate", "nyomtató", "számla")
CHINESE = ("打印机无法连接", "邮箱收不到邮件", "登录失败", "证书过期", "数据库超时")


def seed(engine: Engine, keys: KeyRing | None, n: int, now: datetime, ended: int = 0, seed_: int = 7) -> None:
    """`n` open cases (and `ended` closed ones) in the projection, each with one indexed message."""
    rng = random.Random(seed_)
    store = ConsoleCases(engine, keys)
    rows, search, closed = [], [], []
    for i in range(n):
        case_id = f"case-{TENANTS[i % len(TENANTS)]}.bench-{i:05d}"
        title = f"{rng.choice(WORDS)} problem {i}"
        sealed, kid = sealed_text(keys, title, b"console_cases.title\0" + case_id.encode())
        due = now + timedelta(minutes=rng.randint(-180, 4 * 24 * 60))
        paused = rng.random() < 0.1
        rows.append(
            {
                "case_id": case_id,
                "case_number": f"CW-{20000 + i}",
                "tenant_id": TENANTS[i % len(TENANTS)],
                "status": "awaiting_first_response" if i % 3 == 0 else "in_progress",
                "severity": "ABC"[i % 3],
                "category": "technical",
                "assignee": STAFF[i % len(STAFF)],
                "next_deadline": None if paused else due,
                "clock": None if paused else "first_response" if i % 3 == 0 else "customer_update",
                "first_response_at": None if i % 3 == 0 else now - timedelta(hours=rng.randint(1, 200)),
                "first_response_met": None if i % 3 == 0 else rng.random() < 0.9,
                "breached": due < now,
                "breached_at": due if due < now else None,
                "paused": paused,
                "opened_at": now - timedelta(days=rng.randint(0, 30)),
                "resolved_at": None,
                "closed_at": None,
                "time_zone": "Asia/Shanghai" if i % 2 else "Europe/Budapest",
                "title": sealed,
                "key_id": kid,
                "projected_at": now,
            }
        )
        words = f"{title} {rng.choice(WORDS)} {rng.choice(CHINESE)} requester{i}@example.com"
        search.append((case_id, rows[-1]["tenant_id"], " ".join(store.macs(words))))
    for i in range(ended):
        closed.append(
            {
                "case_id": f"case-{TENANTS[i % len(TENANTS)]}.ended-{i:05d}",
                "tenant_id": TENANTS[i % len(TENANTS)],
                "category": "technical",
                "requested_severity": "B",
                "final_severity": "B",
                "status": "closed",
                "created_at": now - timedelta(days=20),
                "closed_at": now - timedelta(days=rng.randint(0, 19)),
                "sla_breached": False,
                "customer_update_breaches": 0,
                "downgrades": 0,
                "reopens": 0,
                "record": "{}",
                "archived_at": now,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(console_cases), rows)
        if closed:
            connection.execute(insert(closed_cases), closed)
        columns = "(terms, case_id, source, tenant_id, internal)"
        values = "(:terms, :case_id, 'm1', :tenant_id, :internal)"
        flag = 0 if connection.dialect.name == "sqlite" else False
        connection.execute(
            text(f"INSERT INTO case_search {columns} VALUES {values}"),
            [{"terms": t, "case_id": c, "tenant_id": tenant, "internal": flag} for c, tenant, t in search],
        )


class _NoMail:
    port = 9  # no page of the bench sends mail


PAGES = (
    ("view mine", "/console/queue?view=mine"),
    ("view unassigned", "/console/queue?view=unassigned"),
    ("view team", "/console/queue?view=team"),
    ("view open", "/console/queue?view=open"),
    ("view open, page 40", "/console/queue?view=open&page=40"),
    ("view breached", "/console/queue?view=breached"),
    ("view resolved/closed", "/console/queue?view=done"),
    ("rows (htmx refresh)", "/console/queue/rows?view=open"),
    ("search a word", "/console/queue?view=open&q=printer"),
    ("search 2 Chinese chars", "/console/queue?view=open&q=%E8%AF%81%E4%B9%A6"),
    ("search a case number", "/console/queue?view=open&q=CW-21234"),
    ("dashboard", "/console/dashboard"),
)


async def measure(cases: int, rounds: int) -> list[tuple[str, float, float, int]]:
    from bootstrap.api import api_app  # the app of `make run`
    from scaffold.local_stack import local_settings
    from tests.test_api import KEYS, keyring

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("CASEWORK_ENCRYPTION_KEY", new_key())  # titles sealed, index keyed
        settings = local_settings(Path(tmp) / "var", _NoMail(), task_queue="bench")  # type: ignore[arg-type]
        app = api_app(settings.replace(rate_per_key=0), keyring=keyring())
        from adapters.codec import key_ring_from_env
        from adapters.database import open_database

        engine = open_database(settings)
        seed(engine, key_ring_from_env(), cases, datetime.now(UTC), ended=cases // 10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://console.bench") as http:
            form = await http.get("/console/sign-in")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            signed = await http.post(
                "/console/sign-in", data={"token": KEYS["li.wei"][2], "csrf": csrf.group(1)}
            )
            assert signed.status_code == 303, signed.text
            results = []
            for name, path in PAGES:
                answer = await http.get(path)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    answer = await http.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200
                found = len(re.findall(r"<tr data-case-id=", answer.text))
                times.sort()
                results.append((name, statistics.median(times), times[int(len(times) * 0.95) - 1], found))
        engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    load = os.getloadavg()
    results = asyncio.run(measure(args.cases, args.rounds))
    after = os.getloadavg()
    print(f"console pages with {args.cases} open cases, {args.rounds} rounds each (ms)")
    print(f"{'page':28} {'p50':>7} {'p95':>7} rows")
    worst = 0.0
    for name, p50, p95, rows in results:
        worst = max(worst, p95)
        print(f"{name:28} {p50:7.1f} {p95:7.1f} {rows:4d}")
    before_s = " ".join(f"{x:.2f}" for x in load)
    after_s = " ".join(f"{x:.2f}" for x in after)
    print(f"load average (1, 5, 15 min) before {before_s}; after {after_s}")
    print(f"worst p95 {worst:.1f} ms: {'under' if worst < 300 else 'OVER'} the 300 ms budget")


if __name__ == "__main__":
    main()

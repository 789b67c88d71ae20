"""How fast the policy what-if re-decides closed cases: N synthetic closed cases (their recorded
inputs: an assignment, a first response, a customer update, a resolution, each at a varied instant
on contoso's A/B/C and fabrikam's B/C calendars, over four weeks) re-run through the case machine
under a proposed policy (policy.toml with A's first response halved), as `starter.py whatif` does
for closed cases, with a progress line. Prints the figure: cases per second and the time for N.

    .venv/bin/python -m bench.whatif_bench --cases 10000 --processes 2
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

from adapters.country_holidays import expand_policy, snapshot_years
from adapters.settings import PROJECT_ROOT
from support.case.inputs import ArchivedInputs, CaseInputs, OpeningFacts, RecordedEvent
from support.identity.directory import DirectoryFile, parse_directory_file
from support.policies.policy import parse_policy
from support.policies.versions import policy_digest
from support.reporting.whatif import redecide
from support.rules.request import CaseRequest

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
TENANTS = {"contoso": ("admin@contoso.example", "ABC"), "fabrikam": ("it@fabrikam.example", "BC")}
POLICY = (PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8")
PROPOSED = POLICY.replace('first_response = "1h"', 'first_response = "30m"', 1)


def synthetic(i: int) -> tuple[str, ArchivedInputs]:
    """Case `i`: deterministic, varied (tenant, severity, category, opening hour, answer times)."""
    directory_text = (PROJECT_ROOT / "directory.toml").read_text(encoding="utf-8")
    directory = _directory(directory_text)
    tenant = "contoso" if i % 3 else "fabrikam"
    admin, severities = TENANTS[tenant]
    severity = severities[(i // 3) % len(severities)]
    category = "technical" if severity == "A" or i % 4 else ("billing" if i % 8 else "presales")
    opened = START + timedelta(minutes=(i * 137) % (28 * 24 * 60))
    request = CaseRequest.model_validate(
        {
            "request_id": f"bench-{i}",
            "tenant_id": tenant,
            "requester": admin,
            "category": category,
            "severity": severity,
            "title": "Mail is slow",
            "description": "Messages take minutes to arrive.",
            "contact_email": admin,
        }
    )
    record = directory.tenants[tenant]
    facts = OpeningFacts(tenant=record.facts(tenant), requester_is_admin=True)
    answer = timedelta(minutes=5 + (i * 37) % 300)

    def at(delta: timedelta, kind: str, data: dict[str, object]) -> RecordedEvent:
        return RecordedEvent(at=opened + delta, kind=kind, data=data)

    events = [
        at(
            timedelta(minutes=2),
            "Assignment",
            {"engineer": "duty", "assignee": "li.wei", "reason": "on duty"},
        ),
        at(answer, "FirstResponse", {"engineer": "li.wei", "message": "Looking at it"}),
        at(answer + timedelta(hours=2), "CustomerUpdate", {"engineer": "li.wei", "message": "Still on it"}),
        at(answer + timedelta(hours=5), "Resolution", {"engineer": "li.wei", "summary": "Fixed"}),
    ]
    inputs = CaseInputs(opening=facts, opened_on=opened, policy_digest=None, events=events)
    return request.case_id, ArchivedInputs(request=request, created_at=opened, inputs=inputs)


@functools.cache
def _directory(text: str) -> DirectoryFile:
    return parse_directory_file(text, "directory.toml")


def _work(span: tuple[int, int]) -> tuple[int, int, float, float]:
    """Re-decide cases [start, stop) under the proposed policy: (cases, breached, seconds busy, CPU
    seconds: on a loaded machine the CPU per case is the figure that says what the code costs)."""
    proposed = parse_policy(PROPOSED)
    snapshots = {y: expand_policy(proposed, snapshot_years(y)) for y in (2026, 2027)}
    digest = policy_digest(proposed)
    cases = [synthetic(i) for i in range(*span)]
    t0, c0 = time.perf_counter(), time.process_time()
    flips = 0
    horizon = START + timedelta(days=90)
    for case_id, archived in cases:
        year = archived.created_at.year
        after = redecide(archived, case_id, snapshots[year], digest, horizon).view
        clock = after.first_response
        flips += clock is not None and clock.state.value == "breached"
    return len(cases), flips, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=250)
    args = parser.parse_args()
    spans = [(s, min(s + args.chunk, args.cases)) for s in range(0, args.cases, args.chunk)]
    done = breached = 0
    busy = cpu = 0.0
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.processes) as pool:
        for n, flips, seconds, used in pool.map(_work, spans):
            done, breached, busy, cpu = done + n, breached + flips, busy + seconds, cpu + used
            rate = done / (time.perf_counter() - t0)
            print(
                f"\rre-decided {done}/{args.cases} ({rate:.0f} cases/s)", end="", file=sys.stderr, flush=True
            )
    wall = time.perf_counter() - t0
    print(file=sys.stderr)
    print(
        json.dumps(
            {
                "cases": done,
                "processes": args.processes,
                "wall_s": round(wall, 2),
                "cases_per_s": round(done / wall, 1),
                "redecide_ms_per_case": round(busy / done * 1000, 3),
                "redecide_cpu_ms_per_case": round(cpu / done * 1000, 3),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "extrapolated_10000_s": round(10_000 / (done / wall), 1),
                "breached_under_proposed": breached,
            }
        )
    )


if __name__ == "__main__":
    main()

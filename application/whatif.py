"""The policy what-if of a window: the closed cases' rows and recorded inputs from the database,
the running cases from Temporal (visibility, then each case's `case_inputs` query), re-decided under
the proposed policy (`support.reporting.whatif`, pure, in a thread: it is CPU work). Nothing is changed or
sent. Operators only: the inputs hold what customers wrote."""

from __future__ import annotations

import asyncio
import functools
import tomllib
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.closed_cases import closed_case_inputs
from adapters.codec import KeyRing
from adapters.country_holidays import expand_policy, snapshot_years
from adapters.reports_store import closed_cases_in
from adapters.settings import PROJECT_ROOT
from application.reports import QUERY_CONCURRENCY, QUERY_TIMEOUT, open_cases_in
from application.whatif_pool import POOL_FROM, default_processes, rerun_in_pool
from support.policies.policy import Policy, PolicyError, parse_policy
from support.policies.versions import policy_digest
from support.reporting.reports import ReportWindow
from support.reporting.whatif import (
    LiveInputs,
    PolicyName,
    WhatIfCase,
    WhatIfReport,
    rerun_all,
    whatif_report,
)

LANGUAGES = ("en", "zh-CN", "hu")


@cache
def whatif_phrases(language: str) -> dict[str, str]:
    chosen = language if language in LANGUAGES else "en"
    with (PROJECT_ROOT / "templates" / "whatif" / f"{chosen}.toml").open("rb") as file:
        return {key: str(value) for key, value in tomllib.load(file).items()}


class ProposedPolicy:
    """The proposed policy, parsed and validated like the file (PolicyError names table and field),
    snapshotted per year as a case opened that year would be."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.policy = parse_policy(text, source)
        self.name = PolicyName(version=self.policy.version, digest=policy_digest(self.policy))

    @functools.lru_cache(maxsize=8)  # noqa: B019 (one object per what-if)
    def snapshot(self, year: int) -> Policy:
        try:
            return expand_policy(self.policy, snapshot_years(year))
        except ValueError as error:
            raise PolicyError(str(error)) from None


async def running_inputs(client: Client, case_ids: Sequence[str]) -> dict[str, LiveInputs]:
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def read(case_id: str) -> LiveInputs | None:
        async with gate:
            try:
                found = await client.get_workflow_handle(case_id).query(
                    "case_inputs", result_type=LiveInputs, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError):
                return None  # an older worker without the query, or the case closing: kept as listed
        return found if isinstance(found, LiveInputs) else None

    found = await asyncio.gather(*(read(case_id) for case_id in case_ids))
    return {case_id: live for case_id, live in zip(case_ids, found, strict=True) if live is not None}


async def build_whatif(
    engine: Engine,
    client: Client | None,
    window: ReportWindow,
    tenants: Sequence[str] | None,
    proposed: ProposedPolicy,
    now: datetime,
    keys: KeyRing | None = None,
    processes: int | None = None,
) -> WhatIfReport:
    """Running cases first (as the SLA report lists them), then the closed ones. The re-runs are
    made off the event loop: in a thread, or for a long what-if in `processes` child processes
    (default: `CASEWORK_WHATIF_PROCESSES`, else every core; `application.whatif_pool`)."""
    running = await open_cases_in(client, window, tenants) if client is not None else []
    live = await running_inputs(client, [c.case_id for c in running]) if client is not None else {}
    closed = await asyncio.to_thread(closed_cases_in, engine, window, tenants)
    inputs = await asyncio.to_thread(closed_case_inputs, engine, [c.case_id for c in closed], keys)
    cases = [WhatIfCase(case_id=c.case_id, closed=c, inputs=inputs.get(c.case_id)) for c in closed]
    archived = {c.case_id for c in closed}
    for case in running:
        if case.case_id in archived:
            continue  # archived while visibility still listed it: the row counts, as in the report
        found = live.get(case.case_id)
        cases.append(
            WhatIfCase(
                case_id=case.case_id,
                running=case,
                view=found.view if found else None,
                inputs=found.inputs if found else None,
            )
        )
    processes = processes if processes is not None else default_processes()
    if processes > 1 and len(cases) >= POOL_FROM:
        outcomes = await asyncio.to_thread(rerun_in_pool, proposed.text, cases, now, processes)
    else:
        outcomes = await asyncio.to_thread(rerun_all, cases, proposed.snapshot, proposed.name.digest, now)
    return await asyncio.to_thread(
        whatif_report, window, cases, proposed.snapshot, proposed.name, now, tenants, outcomes
    )

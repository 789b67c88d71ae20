"""The SLA report of a window: running cases from Temporal visibility, closed cases from the database.

The counting is `support.reports` (pure); this module fetches the running cases of a window and a
tenant scope (None = every tenant, () = none) by the case's search attributes, the closed ones
through `adapters/reports_store.py`, and puts the two together for the API and the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.reports_store import closed_cases_in
from support.closed_case import AssigneeClocks, assignee_clocks
from support.reports import OpenCase, ReportWindow, SlaReport, sla_report
from support.sla_ledger import SlaBasis, ledger_of
from workflows import search_attributes as sa

WORKFLOW_TYPE = "SupportCaseWorkflow"


def _quoted(value: datetime) -> str:
    return "'" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def open_cases_query(window: ReportWindow, tenants: Sequence[str] | None) -> str:
    """Running cases started in the window. Tenant ids are checked ids (no quoting needed)."""
    clauses = [
        f"WorkflowType = '{WORKFLOW_TYPE}'",
        "ExecutionStatus = 'Running'",
        f"StartTime >= {_quoted(window.since)}",
        f"StartTime < {_quoted(window.until)}",
    ]
    if tenants is not None:
        clauses.append(f"{sa.TENANT_ID.name} IN (" + ", ".join(f"'{t}'" for t in tenants) + ")")
    return " AND ".join(clauses)


async def open_cases_in(
    client: Client, window: ReportWindow, tenants: Sequence[str] | None
) -> list[OpenCase]:
    if tenants is not None and not tenants:
        return []
    found: list[OpenCase] = []
    async for execution in client.list_workflows(open_cases_query(window, tenants)):
        attrs = execution.typed_search_attributes
        tenant = attrs.get(sa.TENANT_ID)
        if tenant is None or execution.start_time is None:
            continue
        found.append(
            OpenCase(
                case_id=execution.id,
                tenant_id=tenant,
                category=attrs.get(sa.CASE_CATEGORY),
                severity=attrs.get(sa.CASE_SEVERITY),
                status=attrs.get(sa.CASE_STATUS),
                started_at=execution.start_time,
                first_response_due=attrs.get(sa.FIRST_RESPONSE_DUE),
                sla_breached=bool(attrs.get(sa.SLA_BREACHED)),
            )
        )
    return found


QUERY_TIMEOUT = timedelta(seconds=5)
QUERY_CONCURRENCY = 8  # running cases' ledgers read at once: a report must not flood the workers


async def running_held(client: Client, case_ids: Sequence[str], now: datetime) -> dict[str, AssigneeClocks]:
    """Who held each clock of the running cases, from each case's ledger at `now` (the `sla_basis`
    query); a case that cannot be read now (closing, its worker busy) is left out."""
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def held(case_id: str) -> AssigneeClocks | None:
        async with gate:
            try:
                basis = await client.get_workflow_handle(case_id).query(
                    "sla_basis", result_type=SlaBasis, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError):
                return None
        return assignee_clocks(ledger_of(basis, now))

    found = await asyncio.gather(*(held(case_id) for case_id in case_ids))
    return {case_id: clocks for case_id, clocks in zip(case_ids, found, strict=True) if clocks is not None}


async def build_sla_report(
    engine: Engine,
    client: Client,
    window: ReportWindow,
    tenants: Sequence[str] | None,
    now: datetime,
    assignees: bool = False,
) -> SlaReport:
    """Running cases are listed first: a case that closes in between is then found in the table
    (and counted once, as closed), never missed by both reads. `assignees`: the time each
    engineer held each clock (operators' reports only); otherwise `by_assignee` is null."""
    running = await open_cases_in(client, window, tenants)
    closed = await asyncio.to_thread(closed_cases_in, engine, window, tenants)
    held = await running_held(client, [c.case_id for c in running], now) if assignees else None
    report = sla_report(window, closed, running, now, tenants, held)
    return report if assignees else report.model_copy(update={"by_assignee": None})

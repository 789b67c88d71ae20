"""The SLA report of a window: running cases from Temporal visibility, closed cases from the database.

The counting is `support.reports` (pure); this module fetches the running cases of a window and a
tenant scope (None = every tenant, () = none) by the case's search attributes, the closed ones
through `adapters/reports_store.py`, and puts the two together for the API and the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio.client import Client

from adapters.reports_store import closed_cases_in
from support.reports import OpenCase, ReportWindow, SlaReport, sla_report
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


async def build_sla_report(
    engine: Engine, client: Client, window: ReportWindow, tenants: Sequence[str] | None, now: datetime
) -> SlaReport:
    """Running cases are listed first: a case that closes in between is then found in the table
    (and counted once, as closed), never missed by both reads."""
    running = await open_cases_in(client, window, tenants)
    closed = await asyncio.to_thread(closed_cases_in, engine, window, tenants)
    return sla_report(window, closed, running, now, tenants)

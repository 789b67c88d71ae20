"""The SLA report of a window: running cases from Temporal visibility, closed cases from the database.

The counting is `support.reports` (pure); this module fetches the running cases of a window and a
tenant scope (None = every tenant, () = none) by the case's search attributes, the closed ones
through `adapters/reports_store.py`, and puts the two together for the API and the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.reports_store import closed_cases_in
from support.case_view import CaseView
from support.closed_case import AssigneeClocks, assignee_clocks
from support.reports import ClosedRow, OpenCase, ReportWindow, SlaReport, sla_report, with_view
from support.sla_ledger import SlaBasis, ledger_of
from workflows import search_attributes as sa

T = TypeVar("T")
WORKFLOW_TYPE = "SupportCaseWorkflow"


def _quoted(value: datetime) -> str:
    return "'" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


ANSWERED = ("in_progress", "resolved", "closed")  # statuses of a case that may have been reopened


def open_cases_query(window: ReportWindow, tenants: Sequence[str] | None, reopened: bool = False) -> str:
    """Running cases started in the window (`reopened`: and those started before it that may have
    been reopened in it). Tenant ids are checked ids (no quoting needed)."""
    since = f"StartTime >= {_quoted(window.since)}"
    if reopened:
        statuses = ", ".join(f"'{s}'" for s in ANSWERED)
        since = f"({since} OR {sa.CASE_STATUS.name} IN ({statuses}))"
    clauses = [
        f"WorkflowType = '{WORKFLOW_TYPE}'",
        "ExecutionStatus = 'Running'",
        since,
        f"StartTime < {_quoted(window.until)}",
    ]
    if tenants is not None:
        clauses.append(f"{sa.TENANT_ID.name} IN (" + ", ".join(f"'{t}'" for t in tenants) + ")")
    return " AND ".join(clauses)


async def open_cases_in(
    client: Client, window: ReportWindow, tenants: Sequence[str] | None, reopened: bool = False
) -> list[OpenCase]:
    if tenants is not None and not tenants:
        return []
    found: list[OpenCase] = []
    async for execution in client.list_workflows(open_cases_query(window, tenants, reopened)):
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


async def _each(client: Client, case_ids: Sequence[str], query: str, kind: type[T]) -> dict[str, T]:
    """A query's answer from each running case, a few at a time; a case that cannot be read now
    (closing, its worker busy) is left out."""
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def read(case_id: str) -> T | None:
        async with gate:
            try:
                found: T = await client.get_workflow_handle(case_id).query(
                    query, result_type=kind, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError):
                return None
        return found

    found = await asyncio.gather(*(read(case_id) for case_id in case_ids))
    return {case_id: answer for case_id, answer in zip(case_ids, found, strict=True) if answer is not None}


async def running_bases(client: Client, case_ids: Sequence[str]) -> dict[str, SlaBasis]:
    """Each running case's view and policy (the `sla_basis` query: what its ledger needs)."""
    return await _each(client, case_ids, "sla_basis", SlaBasis)


@dataclass(frozen=True)
class ReportRows:
    """What a report of a window counts, read once: a console page reports each week of it from
    these without reading again."""

    closed: list[ClosedRow]
    running: list[OpenCase]
    held: dict[str, AssigneeClocks] | None

    def report(self, window: ReportWindow, tenants: Sequence[str] | None, now: datetime) -> SlaReport:
        """`support.reports.sla_report` of these rows (the one count the API, CLI and console show)."""
        report = sla_report(window, self.closed, self.running, now, tenants, self.held)
        return report if self.held is not None else report.model_copy(update={"by_assignee": None})


async def report_rows(
    engine: Engine,
    client: Client,
    window: ReportWindow,
    tenants: Sequence[str] | None,
    now: datetime,
    assignees: bool = False,
) -> ReportRows:
    """Running cases are listed first: a case that closes in between is then found in the table
    (and counted once, as closed), never missed by both reads. An answered running case's view
    says how long its first response took and when it was reopened (one never answered has
    neither); `assignees`: each running case's ledger too (operators' reports only)."""
    listed = await open_cases_in(client, window, tenants, reopened=True)
    closed = await asyncio.to_thread(closed_cases_in, engine, window, tenants)
    wanted = [c.case_id for c in listed if assignees or c.status in ANSWERED]
    held: dict[str, AssigneeClocks] | None = None
    if assignees:  # the ledgers too: each case's policy snapshot with its view
        bases = await running_bases(client, wanted)
        views = {case_id: basis.view for case_id, basis in bases.items()}
        held = {case_id: assignee_clocks(ledger_of(basis, now)) for case_id, basis in bases.items()}
    else:  # the view alone (no policy snapshot to carry)
        views = await _each(client, wanted, "view", CaseView)
    running = [with_view(c, views[c.case_id]) if c.case_id in views else c for c in listed]
    return ReportRows(closed=closed, running=running, held=held)


async def build_sla_report(
    engine: Engine,
    client: Client,
    window: ReportWindow,
    tenants: Sequence[str] | None,
    now: datetime,
    assignees: bool = False,
) -> SlaReport:
    """The report of the window; `assignees`: the time each engineer held each clock (operators'
    reports only), otherwise `by_assignee` is null."""
    rows = await report_rows(engine, client, window, tenants, now, assignees)
    return rows.report(window, tenants, now)

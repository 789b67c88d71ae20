"""The SLA report of a window: running cases from the console's projection, closed cases from their
records, and the running cases that never opened from Temporal visibility.

The counting is `support.reporting.reports` (pure); this module reads the cases of a window and a tenant scope
(None = every tenant, () = none) through `adapters/reports_store.py` (one query each for running and
closed cases: no case is asked for its view) and lists from visibility, by the case's search
attributes, only the few running cases not yet opened (awaiting phone verification, refused), which
have no projected row. The API, the CLI and the console all count with `report_rows`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from adapters.reports_store import closed_cases_in, running_cases_in
from support.reporting.closed_case import AssigneeClocks, assignee_clocks
from support.reporting.reports import ClosedRow, CountedCases, OpenCase, ReportWindow, RunningCase, SlaReport
from support.sla_clocks.ledger import SlaBasis, ledger_of
from workflows import search_attributes as sa

T = TypeVar("T")
WORKFLOW_TYPE = "SupportCaseWorkflow"


def _quoted(value: datetime) -> str:
    return "'" + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


NOT_OPENED = ("new", "awaiting_verification", "refused")  # running, with no projected row


def open_cases_query(
    window: ReportWindow, tenants: Sequence[str] | None, statuses: Sequence[str] | None = None
) -> str:
    """Running cases started in the window (`statuses`: only in those). Tenant ids and statuses are
    checked values (no quoting needed)."""
    clauses = [
        f"WorkflowType = '{WORKFLOW_TYPE}'",
        "ExecutionStatus = 'Running'",
        f"StartTime >= {_quoted(window.since)}",
        f"StartTime < {_quoted(window.until)}",
    ]
    if statuses is not None:
        clauses.append(f"{sa.CASE_STATUS.name} IN (" + ", ".join(f"'{s}'" for s in statuses) + ")")
    if tenants is not None:
        clauses.append(f"{sa.TENANT_ID.name} IN (" + ", ".join(f"'{t}'" for t in tenants) + ")")
    return " AND ".join(clauses)


async def open_cases_in(
    client: Client,
    window: ReportWindow,
    tenants: Sequence[str] | None,
    statuses: Sequence[str] | None = None,
) -> list[OpenCase]:
    """Running cases started in the window, as visibility lists them (the what-if's; the report's
    only those not yet opened)."""
    if tenants is not None and not tenants:
        return []
    found: list[OpenCase] = []
    async for execution in client.list_workflows(open_cases_query(window, tenants, statuses)):
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
    running: list[RunningCase]
    held: dict[str, AssigneeClocks] | None
    _counted: dict[tuple[tuple[str, ...] | None, datetime], CountedCases] = field(
        default_factory=dict, compare=False, repr=False
    )

    def report(self, window: ReportWindow, tenants: Sequence[str] | None, now: datetime) -> SlaReport:
        """`support.reporting.reports.sla_report` of these rows (the one count the API, CLI and console show):
        the rows are reduced to what it counts once (`CountedCases`), and each window of the
        console's chart counts its slice of them."""
        key = (None if tenants is None else tuple(tenants), now)
        counted = self._counted.get(key)
        if counted is None:
            counted = self._counted[key] = CountedCases(self.closed, self.running, now, tenants, self.held)
        report = counted.report(window)
        return report if self.held is not None else report.model_copy(update={"by_assignee": None})


async def report_rows(
    engine: Engine,
    client: Client,
    window: ReportWindow,
    tenants: Sequence[str] | None,
    now: datetime,
    assignees: bool = False,
) -> ReportRows:
    """Running cases are read first: a case that closes in between is then found in the table
    (and counted once, as closed), never missed by both reads. `assignees`: each running case's
    ledger too (operators' reports only: one query per running case)."""
    unopened = await open_cases_in(client, window, tenants, NOT_OPENED)
    running = await asyncio.to_thread(running_cases_in, engine, window, tenants)
    closed = await asyncio.to_thread(closed_cases_in, engine, window, tenants)
    held: dict[str, AssigneeClocks] | None = None
    if assignees:  # the ledgers: each case's policy snapshot with its view
        bases = await running_bases(client, [c.case_id for c in running])
        held = {case_id: assignee_clocks(ledger_of(basis, now)) for case_id, basis in bases.items()}
    return ReportRows(closed=closed, running=[*running, *unopened], held=held)


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

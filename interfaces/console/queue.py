"""The console's queue: open cases by the time left to their nearest deadline.

The workspace's views (interfaces.console.workspace) read the console's projection and make their rows
with `entries_of`; `next_deadlines` below is the listing over Temporal's visibility it replaced
(kept for callers of the gateway without a database).

One gateway call, `next_deadlines`, answers the queue in order: the first `QUEUE_PAGE` open cases
by the `NextDeadline` search attribute each case publishes (`application.case_listing`, order
`deadline`: the first response while it is awaited, then the next customer update; cases whose
clock waits for the customer last). Then the view of each row on the page is read, for its title,
calendar and flags: the view is the truth, so a case that moved on since the listing drops out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from adapters.console_cases import Row
from application.case_listing import CaseFilter, CaseSummary, ListOrder
from application.cases import CaseNotFound, Cases, Unavailable
from support.case.next_deadline import next_deadline
from support.case.view import CaseView
from support.identity.access import Principal
from support.policies.policy import Policy
from support.policies.vocabulary import CaseStatus, Category, Severity
from support.rules.entitlement import case_calendar
from support.sla_clocks.calendar import Calendar

QUEUE_STATUSES = (CaseStatus.AWAITING_FIRST_RESPONSE, CaseStatus.IN_PROGRESS)
QUEUE_PAGE = 50  # rows of the queue: the cases with the least time left
_READS_AT_ONCE = 8
_FAR = datetime.max.replace(tzinfo=None)


@dataclass(frozen=True)
class QueueEntry:
    """One row: what the deadline is, when, and how much business time is left on its calendar."""

    case_id: str
    tenant_id: str
    title: str
    severity: str
    status: str
    clock: str | None  # first_response, customer_update, or None (paused, or no deadline)
    due: datetime | None
    business_left_s: int | None  # negative once past due
    calendar_open: bool
    breached: bool
    paused: bool
    time_zone: str
    ref: str = ""  # what people say: the case's number ("" for a case from before numbers: its id)
    assignee: str | None = None  # staff only (the projection's rows; never shown to customers)


def business_left(calendar: Calendar, now: datetime, due: datetime) -> int:
    """Business seconds from now until the deadline (negative, in business time, once past)."""
    if due >= now:
        return int(calendar.elapsed(now, due).total_seconds())
    return -int(calendar.elapsed(due, now).total_seconds())


def entry_of(view: CaseView, policy: Policy, now: datetime) -> QueueEntry | None:
    """The row of a case, or None when it is not open (it moved on since it was listed). Its
    deadline is the one the case publishes (`support.case.next_deadline`), read from the view."""
    if view.status not in QUEUE_STATUSES or view.severity is None:
        return None
    upcoming = next_deadline(view)
    zone = view.time_zone or "UTC"
    calendar = case_calendar(policy, view.category, view.severity, zone)
    due = upcoming.at
    paused = upcoming.paused or any(p.resumed_at is None for p in view.pauses)
    return QueueEntry(
        case_id=view.case_id,
        ref=view.case_number or "",
        tenant_id=view.tenant_id,
        title=view.title,
        severity=view.severity.value,
        status=view.status.value,
        clock=upcoming.clock.value if upcoming.clock is not None and due is not None else None,
        due=due,
        business_left_s=business_left(calendar, now, due) if due is not None else None,
        calendar_open=calendar.is_open(now),
        breached=view.sla_breached,
        paused=paused,
        time_zone=zone,
    )


def order(entries: list[QueueEntry], now: datetime) -> list[QueueEntry]:
    """Least time left first (wall clock to the deadline; business time breaks ties), then the
    cases without a running deadline (paused)."""

    def key(entry: QueueEntry) -> tuple[int, float, int]:
        if entry.due is None:
            return (1, 0.0, 0)
        return (0, (entry.due - now).total_seconds(), entry.business_left_s or 0)

    return sorted(entries, key=key)


async def next_deadlines(
    cases: Cases,
    principal: Principal,
    policy: Policy,
    now: datetime,
    *,
    severity: Severity | None = None,
    tenant_id: str | None = None,
    status: CaseStatus | None = None,
) -> list[QueueEntry]:
    """The queue of this principal's open cases, ordered (see the module's docstring)."""
    statuses = QUEUE_STATUSES if status is None else (status,)
    if any(wanted not in QUEUE_STATUSES for wanted in statuses):
        return []
    wanted = CaseFilter(statuses=statuses, severity=severity, tenant_id=tenant_id)
    page = await cases.page(wanted, principal=principal, order=ListOrder.DEADLINE, limit=QUEUE_PAGE)
    gate = asyncio.Semaphore(_READS_AT_ONCE)

    async def read(summary: CaseSummary) -> CaseView | None:
        async with gate:
            try:
                return await cases.show(summary.case_id, principal)
            except (CaseNotFound, Unavailable):
                return None  # gone, or its worker is slow: the next refresh shows it

    views = await asyncio.gather(*(read(s) for s in page.cases))
    entries = [e for v in views if v is not None and (e := entry_of(v, policy, now)) is not None]
    if status is not None:  # the view is the truth; the list's attributes may lag behind it
        entries = [e for e in entries if e.status == status.value]
    return order(entries, now)


def entries_of(rows: list[Row], policy: Policy, now: datetime, staff_side: bool) -> list[QueueEntry]:
    """The rows of a page of the projection (adapters.console_cases), each with its business time
    left on its own calendar (one calendar per category, severity and zone on the page)."""
    calendars: dict[tuple[str, str, str], Calendar] = {}
    entries = []
    for row in rows:
        left: int | None = None
        is_open = False
        running = row.status in (s.value for s in QUEUE_STATUSES)
        if row.severity is not None and running:
            key = (row.category, row.severity, row.time_zone)
            if key not in calendars:
                calendars[key] = case_calendar(
                    policy, Category(row.category), Severity(row.severity), row.time_zone
                )
            calendar = calendars[key]
            is_open = calendar.is_open(now)
            if row.next_deadline is not None:
                left = business_left(calendar, now, row.next_deadline)
        due = row.next_deadline if running else None
        entries.append(
            QueueEntry(
                case_id=row.case_id,
                ref=row.case_number or "",
                tenant_id=row.tenant_id,
                title=row.title,
                severity=row.severity or "",
                status=row.status,
                clock=row.clock if due is not None else None,
                due=due,
                business_left_s=left,
                calendar_open=is_open,
                breached=row.breached or (due is not None and due < now),
                paused=row.paused and running,
                time_zone=row.time_zone,
                assignee=row.assignee if staff_side else None,
            )
        )
    return entries

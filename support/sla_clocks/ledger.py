"""The SLA ledger of a case: where each clock's time went, segment by segment, and who held the
case while it ran.

Derived from the case's record alone (its clocks' running periods, pauses, requests, severity
changes and changes of hands) on the calendar each clock was planned on, under the case's own
policy snapshot. The running segments are the calendar's own open intervals, so they add up to the
business time the clock used, to the second. Pure: no I/O, no clock but `now`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from support.case.view import CaseView
from support.identity.tenant import TenantFacts
from support.policies.policy import Policy
from support.policies.targets import Target
from support.policies.vocabulary import Severity
from support.rules.cooperation import CustomerRequest, RequestKind, RequestState
from support.rules.entitlement import case_calendar
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clocks import Segment, SlaClock

CalendarFor = Callable[[Severity], Calendar]


class SegmentKind(StrEnum):
    RUNNING = "running"
    OUTSIDE_HOURS = "outside_hours"
    HOLIDAY = "holiday"
    MAKE_UP_WORKDAY = "make_up_workday"  # running, on a day the week would have closed
    PAUSED_AWAITING_CUSTOMER = "paused_awaiting_customer"
    SEVERITY_CHANGED = "severity_changed"  # an instant: the clock re-planned on the new severity

    @property
    def counts(self) -> bool:
        """Whether the clock's business time runs in a segment of this kind."""
        return self in (SegmentKind.RUNNING, SegmentKind.MAKE_UP_WORKDAY)


class LedgerSegment(BaseModel):
    kind: SegmentKind
    start: datetime
    end: datetime
    business_seconds: float = 0.0
    assignee: str | None = Field(default=None, description="who held the case while the clock ran")
    request_id: str | None = Field(default=None, description="the request the clock waited for")
    reason: str | None = Field(default=None, description="why the clock paused, as the case recorded it")
    severity: Severity | None = Field(default=None, description="severity_changed: the new severity")
    previous: Severity | None = Field(default=None, description="severity_changed: the one before")


class AssigneeTime(BaseModel):
    assignee: str | None = Field(description="None: nobody held the case")
    business_seconds: float


class ClockLedger(BaseModel):
    clock: str = Field(description="first_response, customer_update or obligation")
    ref: str | None = Field(default=None, description="an obligation's name")
    cycle: int = 0
    target: str
    allowed_seconds: float
    used_seconds: float = Field(description="the sum of the running segments")
    state: str
    started_at: datetime
    due: datetime | None
    ended_at: datetime | None = Field(description="answered (or provided), or stopped")
    breached_by_seconds: float | None = Field(description="business time used beyond the target")
    calendar_time_zone: str
    segments: list[LedgerSegment]
    by_assignee: list[AssigneeTime]


class CaseLedger(BaseModel):
    case_id: str
    policy_version: str | None
    policy_digest: str | None = Field(default=None, description="the version's digest (policy history)")
    severity: Severity | None
    time_zone: str
    at: datetime = Field(description="the instant the ledger was read at (running clocks stop here)")
    clocks: list[ClockLedger]
    by_assignee: list[AssigneeTime] = Field(description="first response and customer updates together")


class SlaBasis(BaseModel):
    """What a case's ledger is derived from: its record and the policy snapshot it runs under
    (None before its context is loaded), with the tenant's zone (a pre-sales calendar's)."""

    view: CaseView
    policy: Policy | None
    tenant_time_zone: str | None
    tenant: TenantFacts | None = Field(
        default=None, description="the tenant facts the case runs on (which actions it takes now)"
    )


def ledger_of(basis: SlaBasis, now: datetime) -> CaseLedger:
    """The ledger of a case as its basis says (no clocks before the case was opened)."""
    if basis.policy is None or basis.tenant_time_zone is None:
        view = basis.view
        return CaseLedger(
            case_id=view.case_id,
            policy_version=view.policy_version,
            policy_digest=view.policy_digest,
            severity=view.severity,
            time_zone=view.time_zone or "UTC",
            at=now,
            clocks=[],
            by_assignee=[],
        )
    return case_ledger(basis.view, basis.policy, basis.tenant_time_zone, now)


def severity_at(view: CaseView, at: datetime) -> Severity | None:
    chosen = None
    for change in view.severity_history:
        if change.at <= at:
            chosen = change.severity
    return chosen or view.severity


def holder_at(view: CaseView, at: datetime) -> str | None:
    chosen = None
    for holding in view.holders:
        if holding.since <= at:
            chosen = holding.engineer
    return chosen


# -- cutting a clock's time into segments ------------------------------------------------------------


def _closed(calendar: Calendar, start: datetime, end: datetime) -> list[LedgerSegment]:
    """A closed stretch, day by local day: a holiday's part is a holiday, the rest outside hours."""
    pieces: list[LedgerSegment] = []
    cursor = start
    while cursor < end:
        day = calendar.local_day(cursor)
        midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=calendar.zone)
        stop = min(end, midnight)
        if stop <= cursor:  # a zone whose midnight is skipped: step on by the hour
            stop = min(end, cursor + timedelta(hours=1))
        kind = SegmentKind.HOLIDAY if calendar.day_kind(day) == "holiday" else SegmentKind.OUTSIDE_HOURS
        _append(pieces, LedgerSegment(kind=kind, start=cursor, end=stop))
        cursor = stop
    return pieces


def _append(pieces: list[LedgerSegment], piece: LedgerSegment) -> None:
    """Add `piece`, joined to the last one when it goes on the same way."""
    if pieces and pieces[-1].end == piece.start and pieces[-1].kind is piece.kind:
        pieces[-1] = pieces[-1].model_copy(update={"end": piece.end})
    else:
        pieces.append(piece)


def _period(calendar: Calendar, start: datetime, end: datetime) -> list[LedgerSegment]:
    """One running period: the calendar's open intervals, and the closed stretches between."""
    pieces: list[LedgerSegment] = []
    cursor = start
    for lo, hi in calendar.open_spans(start, end):
        for closed in _closed(calendar, cursor, lo):
            _append(pieces, closed)
        made_up = calendar.day_kind(calendar.local_day(lo)) == "make_up_workday"
        kind = SegmentKind.MAKE_UP_WORKDAY if made_up else SegmentKind.RUNNING
        _append(pieces, LedgerSegment(kind=kind, start=lo, end=hi))
        cursor = hi
    for closed in _closed(calendar, cursor, end):
        _append(pieces, closed)
    return pieces


def _waited_for(view: CaseView, start: datetime) -> tuple[str | None, str | None]:
    """The request a pause from `start` waited for, and the reason the case recorded."""
    reason = next((p.reason for p in view.pauses if p.paused_at == start), None)
    candidates = [
        r
        for r in view.customer_requests
        if r.pauses_clock and r.requested_at <= start and (r.answered_at is None or r.answered_at >= start)
    ]
    request = max(candidates, key=lambda r: r.requested_at, default=None)
    return (request.request_id if request else None), reason


def _cut(pieces: list[LedgerSegment], instant: datetime) -> list[LedgerSegment]:
    out: list[LedgerSegment] = []
    for piece in pieces:
        if piece.start < instant < piece.end:
            out += [piece.model_copy(update={"end": instant}), piece.model_copy(update={"start": instant})]
        else:
            out.append(piece)
    return out


def segments_of(
    view: CaseView, periods: list[Segment], calendar: Calendar, now: datetime, pausable: bool = True
) -> list[LedgerSegment]:
    """The ledger of running periods: each period cut by the calendar, the gaps between them
    paused for the customer, cut where the case changed hands or severity; each running piece
    charged to whoever held the case."""
    pieces: list[LedgerSegment] = []
    previous_end: datetime | None = None
    for period in periods:
        end = period.end or now
        if previous_end is not None and previous_end < period.start:
            kind = SegmentKind.PAUSED_AWAITING_CUSTOMER
            if pausable:
                request_id, reason = _waited_for(view, previous_end)
                pieces.append(
                    LedgerSegment(
                        kind=kind, start=previous_end, end=period.start, request_id=request_id, reason=reason
                    )
                )
        pieces += _period(calendar, period.start, end)
        previous_end = end
    if not periods:
        return []
    first, last = periods[0].start, previous_end or now
    for holding in view.holders:
        pieces = _cut(pieces, holding.since)
    changes = [c for c in view.severity_history if first < c.at <= last and c.previous is not None]
    for change in changes:
        pieces = _cut(pieces, change.at)
    charged = [
        p.model_copy(
            update={
                "business_seconds": (p.end - p.start).total_seconds(),
                "assignee": holder_at(view, p.start),
            }
        )
        if p.kind.counts
        else p
        for p in pieces
    ]
    for change in reversed(changes):
        marker = LedgerSegment(
            kind=SegmentKind.SEVERITY_CHANGED,
            start=change.at,
            end=change.at,
            severity=change.severity,
            previous=change.previous,
        )
        index = next((i for i, p in enumerate(charged) if p.start >= change.at), len(charged))
        charged.insert(index, marker)
    return charged


def by_assignee(segments: list[LedgerSegment]) -> list[AssigneeTime]:
    """Business time per holder, most first (nobody's time as `None`)."""
    totals: dict[str | None, timedelta] = {}
    for segment in segments:
        if segment.kind.counts:
            totals[segment.assignee] = totals.get(segment.assignee, timedelta(0)) + (
                segment.end - segment.start
            )
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0] or ""))
    return [AssigneeTime(assignee=name, business_seconds=spent.total_seconds()) for name, spent in ranked]


def used_of(segments: list[LedgerSegment]) -> timedelta:
    return sum((s.end - s.start for s in segments if s.kind.counts), timedelta(0))


# -- the clocks --------------------------------------------------------------------------------------


def _ledger(
    *,
    clock: str,
    ref: str | None,
    cycle: int,
    target: str,
    allowed: timedelta,
    state: str,
    started_at: datetime,
    due: datetime | None,
    ended_at: datetime | None,
    calendar: Calendar,
    segments: list[LedgerSegment],
    late: bool,
) -> ClockLedger:
    used = used_of(segments)
    over = used - allowed
    return ClockLedger(
        clock=clock,
        ref=ref,
        cycle=cycle,
        target=target,
        allowed_seconds=allowed.total_seconds(),
        used_seconds=used.total_seconds(),
        state=state,
        started_at=started_at,
        due=due,
        ended_at=ended_at,
        breached_by_seconds=over.total_seconds() if late and over > timedelta(0) else None,
        calendar_time_zone=calendar.time_zone,
        segments=segments,
        by_assignee=by_assignee(segments),
    )


def clock_calendar(view: CaseView, clock: SlaClock, calendars: CalendarFor, now: datetime) -> Calendar:
    """The calendar a clock was last planned on: at its answer when answered, else the case's now."""
    severity = severity_at(view, clock.answered_at or now)
    assert severity is not None
    return calendars(severity)


def sla_clock_ledger(view: CaseView, clock: SlaClock, calendars: CalendarFor, now: datetime) -> ClockLedger:
    calendar = clock_calendar(view, clock, calendars, now)
    return _ledger(
        clock=clock.name.value,
        ref=None,
        cycle=clock.cycle,
        target=clock.target,
        allowed=clock.business_time,
        state=clock.state.value,
        started_at=clock.started_at,
        due=clock.due,
        ended_at=clock.answered_at or (clock.segments[-1].end if not clock.running else None),
        calendar=calendar,
        segments=segments_of(view, clock.segments, calendar, now),
        late=clock.breached_at is not None,
    )


def _past_cycles(view: CaseView, clock: SlaClock, calendars: CalendarFor, now: datetime) -> list[ClockLedger]:
    ledgers = []
    for result in clock.history:
        if not result.segments or result.business_time is None or result.target is None:
            continue  # a cycle finished before cycles kept their periods: its verdict only
        end = result.answered_at or result.segments[-1].end or now
        severity = severity_at(view, end)
        assert severity is not None
        calendar = calendars(severity)
        ledgers.append(
            _ledger(
                clock=clock.name.value,
                ref=None,
                cycle=result.cycle,
                target=result.target,
                allowed=result.business_time,
                state=result.state.value,
                started_at=result.started_at,
                due=result.due,
                ended_at=end,
                calendar=calendar,
                segments=segments_of(view, result.segments, calendar, now),
                late=result.state.value == "breached",
            )
        )
    return ledgers


def _provided_at(request: CustomerRequest) -> datetime | None:
    return request.answered_at or request.accepted_at


def obligation_ledger(
    view: CaseView, request: CustomerRequest, target: Target, calendar: Calendar, now: datetime
) -> ClockLedger:
    """The customer's own clock: from the ask until provided (never paused)."""
    allowed = target.on(calendar)
    end = _provided_at(request)
    waived = request.state is RequestState.WAIVED
    periods = [] if waived else [Segment(start=request.requested_at, end=end or now)]
    segments = segments_of(view, periods, calendar, now, pausable=False)
    late = (end or now) > request.due and not waived
    return _ledger(
        clock="obligation",
        ref=request.request_id,
        cycle=0,
        target=str(target),
        allowed=allowed,
        state=request.state.value,
        started_at=request.requested_at,
        due=request.due,
        ended_at=end,
        calendar=calendar,
        segments=segments,
        late=late,
    )


def case_ledger(view: CaseView, policy: Policy, tenant_time_zone: str, now: datetime) -> CaseLedger:
    """Every clock of the case read at `now`: first response, each customer-update cycle kept,
    and each obligation, on the calendars of the case's own policy snapshot."""

    def calendars(severity: Severity) -> Calendar:
        return case_calendar(policy, view.category, severity, tenant_time_zone)

    clocks: list[ClockLedger] = []
    if view.first_response is not None:
        clocks.append(sla_clock_ledger(view, view.first_response, calendars, now))
    if view.customer_update is not None:
        clocks += _past_cycles(view, view.customer_update, calendars, now)
        clocks.append(sla_clock_ledger(view, view.customer_update, calendars, now))
    if view.severity is not None:
        calendar = calendars(view.severity)
        for request in view.customer_requests:
            if request.kind is RequestKind.OBLIGATION:
                target = policy.severities[view.severity].cooperation_due
                clocks.append(obligation_ledger(view, request, target, calendar, now))
    sla = [s for c in clocks if c.clock != "obligation" for s in c.segments]
    return CaseLedger(
        case_id=view.case_id,
        policy_version=view.policy_version,
        policy_digest=view.policy_digest,
        severity=view.severity,
        time_zone=view.time_zone or tenant_time_zone,
        at=now,
        clocks=clocks,
        by_assignee=by_assignee(sla),
    )


def customer_ledger(ledger: CaseLedger) -> CaseLedger:
    """The ledger as the customer's side reads it: nothing names staff (who held the case, or
    why staff paused the clock in their own words); the request it waited for stays."""
    clocks = [
        clock.model_copy(
            update={
                "segments": [s.model_copy(update={"assignee": None, "reason": None}) for s in clock.segments],
                "by_assignee": [],
            }
        )
        for clock in ledger.clocks
    ]
    return ledger.model_copy(update={"clocks": clocks, "by_assignee": []})

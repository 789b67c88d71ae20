"""What an action's update answers (issue 26): a receipt, not the case's view.

The view is up to 256 KiB and an update's answer is written into the case's history, so answering
every action with it cost ~60 KiB of history per action (and its transfer); the caller who wants
the view reads it (`GET /cases/{id}`, one query). A refused action gets no receipt: the case's
validator rejects it before it is accepted (a 409 with the case's reason), and nothing is recorded.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from support.case.next_deadline import next_deadline
from support.case.view import CaseView
from support.policies.vocabulary import CaseStatus, Severity
from support.reporting.closed_case import reopen_instants
from support.sla_clocks.clock_state import ClockState
from support.sla_clocks.clocks import ClockName

# The part of a clock an action can move: its cycle, state, due instant and answer.
ClockMark = tuple[int, ClockState, str | None, str | None]


class QueueFacts(BaseModel):
    """What of a case the console's queue shows and an action may change (adapters.console_cases):
    carried by the receipt (a few hundred bytes) so the queue follows every action, whichever
    front took it, without a second round trip to read the view. What an opening fixed (number,
    tenant, title, category, zone) is written when the case is opened or read."""

    status: CaseStatus
    severity: Severity | None = None
    assignee: str | None = None
    next_deadline: datetime | None = None
    clock: ClockName | None = None
    paused: bool = False
    first_response_at: datetime | None = None
    first_response_met: bool | None = None
    breached: bool = False
    breached_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    # What reports count of a running case (adapters.reports_store reads them from the row):
    first_response_due: datetime | None = None
    first_response_business_s: float | None = None
    reopened_at: list[datetime] = Field(default_factory=list)


def queue_facts(view: CaseView) -> QueueFacts:
    """The queue's facts of the case as it stands (the one rule for the projection's row)."""
    upcoming = next_deadline(view)
    first = view.first_response
    answered = first is not None and first.answered_at is not None
    business = first.business_time_to_answer if first is not None and answered else None
    breaches = [c.breached_at for c in (first, view.customer_update) if c and c.breached_at]
    return QueueFacts(
        status=view.status,
        severity=view.severity,
        assignee=view.assigned_engineer,
        next_deadline=upcoming.at,
        clock=upcoming.clock if upcoming.clock is not None and upcoming.at else None,
        paused=upcoming.paused or any(p.resumed_at is None for p in view.pauses),
        first_response_at=first.answered_at if first else None,
        first_response_met=(first.breached_at is None) if first and first.answered_at else None,
        breached=view.sla_breached,
        breached_at=max(breaches) if breaches else None,
        resolved_at=view.resolved_at,
        closed_at=view.closed_at,
        first_response_due=first.due if first else None,
        first_response_business_s=business.total_seconds() if business is not None else None,
        reopened_at=reopen_instants(view),
    )


class ActionReceipt(BaseModel):
    """The case after an action it took: where it stands, which SLA clocks the action moved
    (answered, satisfied, paused, resumed or started again), and its sequence (how many entries
    its timeline has recorded in all: a reader's view is as new as the action when its own
    `timeline_omitted + len(timeline)` is at least this)."""

    case_id: str
    status: CaseStatus
    clocks_moved: list[ClockName] = Field(default_factory=list)
    sequence: int = Field(ge=0)
    facts: QueueFacts | None = None  # None from a worker before the queue's facts were carried


def clock_marks(view: CaseView) -> dict[ClockName, ClockMark]:
    """What of each running clock an action may move (taken before it, compared after)."""
    marks: dict[ClockName, ClockMark] = {}
    for clock in (view.first_response, view.customer_update):
        if clock is not None:
            due = clock.due.isoformat() if clock.due is not None else None
            answered = clock.answered_at.isoformat() if clock.answered_at is not None else None
            marks[clock.name] = (clock.cycle, clock.state, due, answered)
    return marks


def receipt(view: CaseView, before: dict[ClockName, ClockMark]) -> ActionReceipt:
    """The receipt of an action, from the view after it and the clocks' marks before it."""
    after = clock_marks(view)
    moved = [name for name in ClockName if after.get(name) != before.get(name)]
    return ActionReceipt(
        case_id=view.case_id,
        status=view.status,
        clocks_moved=moved,
        sequence=view.timeline_omitted + len(view.timeline),
        facts=queue_facts(view),
    )

"""What an action's update answers (issue 26): a receipt, not the case's view.

The view is up to 256 KiB and an update's answer is written into the case's history, so answering
every action with it cost ~60 KiB of history per action (and its transfer); the caller who wants
the view reads it (`GET /cases/{id}`, one query). A refused action gets no receipt: the case's
validator rejects it before it is accepted (a 409 with the case's reason), and nothing is recorded.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from support.case_view import CaseView
from support.clocks import ClockName
from support.sla import ClockState
from support.vocabulary import CaseStatus

# The part of a clock an action can move: its cycle, state, due instant and answer.
ClockMark = tuple[int, ClockState, str | None, str | None]


class ActionReceipt(BaseModel):
    """The case after an action it took: where it stands, which SLA clocks the action moved
    (answered, satisfied, paused, resumed or started again), and its sequence (how many entries
    its timeline has recorded in all: a reader's view is as new as the action when its own
    `timeline_omitted + len(timeline)` is at least this)."""

    case_id: str
    status: CaseStatus
    clocks_moved: list[ClockName] = Field(default_factory=list)
    sequence: int = Field(ge=0)


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
    )

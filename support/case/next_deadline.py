"""The case's nearest open deadline: what support must do next, and by when.

Before the first response it is the first-response due time; once responded, the due time of
the current customer-update cycle; none once the case is resolved or while the update clock
waits for the customer (then the case is `paused`). The queue orders open cases by it, and the
case publishes it as a search attribute so that ordering needs no read of every case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from support.case.effects import CaseAttribute, Decision
from support.case.view import CaseView
from support.policies.vocabulary import CaseStatus
from support.sla_clocks.clocks import ClockName

if TYPE_CHECKING:  # the record keeps what was last published
    from support.case.record import CaseRecord


class NextDeadline(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime | None = None
    clock: ClockName | None = None
    paused: bool = False


NO_DEADLINE = NextDeadline()


def next_deadline(view: CaseView) -> NextDeadline:
    """The nearest deadline support has to meet on this case now (pure)."""
    if view.status is CaseStatus.AWAITING_FIRST_RESPONSE:
        clock = view.first_response
        if clock is None or clock.answered_at is not None:
            return NO_DEADLINE
        return NextDeadline(at=clock.due, clock=clock.name, paused=clock.due is None)
    if view.status is CaseStatus.IN_PROGRESS:
        clock = view.customer_update
        if clock is None or clock.answered_at is not None:
            return NO_DEADLINE
        return NextDeadline(at=clock.due, clock=clock.name, paused=clock.due is None)
    return NO_DEADLINE


NEXT_DEADLINE_PATCH = "next-deadline-attribute"
# What the attribute holds when there is no deadline: it sorts after every real one, and it is
# never unset (an unset Datetime attribute comes back as null, which the SDK's client cannot
# decode: describe and list of that case would fail).
NO_DEADLINE_AT = datetime(9999, 12, 31, tzinfo=UTC)


def publish(case: CaseRecord, decision: Decision) -> None:
    """After every event: when the case's next deadline changed, set it (and whether its clock
    waits for the customer) with the decision's search attributes. Cases that ran before this
    rule replay without it."""
    current = next_deadline(case.view)
    if current == case.published or not case.patched(NEXT_DEADLINE_PATCH):
        return
    case.published = current
    at = NO_DEADLINE_AT if current.at is None else current.at
    decision.also_set((CaseAttribute.NEXT_DEADLINE, at), (CaseAttribute.CLOCK_PAUSED, current.paused))

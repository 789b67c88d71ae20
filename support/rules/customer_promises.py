"""What a customer is promised about their case, and nothing of how support keeps it (pure).

The portal shows the customer the answer they can expect and by when, and what support waits for
from them; never the SLA's mechanics (warning points, pauses, business-time budgets, who holds the
case). One function from the customer's view of a case (`support.case.customer_view`) to the few facts
the portal's page says, so the page cannot reach for more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from support.case.view import CaseView, SurveyOutcome
from support.policies.vocabulary import CaseStatus
from support.rules.cooperation import CustomerRequest, RequestKind, RequestState


class Promise(StrEnum):
    FIRST_ANSWER = "first_answer"  # support answers by `due`
    NEXT_UPDATE = "next_update"  # support writes again by `due`
    WAITING_FOR_YOU = "waiting_for_you"  # support waits for what the customer was asked
    BEING_OPENED = "being_opened"
    RESOLVED = "resolved"  # the customer may reopen until `due`
    CLOSED = "closed"
    ENDED = "ended"  # withdrawn, refused, closed for want of an answer


@dataclass(frozen=True)
class CustomerPromise:
    promise: Promise
    due: datetime | None = None
    obligations: list[CustomerRequest] = field(default_factory=list)  # the policy's, to tick
    asked: list[CustomerRequest] = field(default_factory=list)  # the engineer's questions, open
    survey_open: bool = False  # the satisfaction survey waits for an answer
    may_reopen: bool = False
    may_withdraw: bool = False


def promise_of(view: CaseView, now: datetime) -> CustomerPromise:
    """The promise the customer reads, from the customer's view of the case at `now`."""
    requests = view.customer_requests
    obligations = [
        r for r in requests if r.kind is RequestKind.OBLIGATION and r.state is not RequestState.WAIVED
    ]
    asked = [r for r in requests if r.kind is RequestKind.ENGINEER and r.outstanding]
    survey_open = view.survey is not None and view.survey.outcome is SurveyOutcome.PENDING
    status = view.status

    def made(promise: Promise, due: datetime | None = None, *, reopen: bool = False) -> CustomerPromise:
        withdraw = status.is_open
        return CustomerPromise(promise, due, obligations, asked, survey_open, reopen, withdraw)

    if status in (CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION):
        return made(Promise.BEING_OPENED)
    if status is CaseStatus.AWAITING_FIRST_RESPONSE:
        return made(Promise.FIRST_ANSWER, view.first_response.due if view.first_response else None)
    if status is CaseStatus.IN_PROGRESS:
        clock = view.customer_update
        if asked or (clock is not None and clock.due is None and clock.answered_at is None):
            return made(Promise.WAITING_FOR_YOU)
        return made(Promise.NEXT_UPDATE, clock.due if clock is not None and clock.running else None)
    if status is CaseStatus.RESOLVED:
        until = view.reopen_until
        reopen = until is not None and now < until
        return made(Promise.RESOLVED, until if reopen else None, reopen=reopen)
    if status is CaseStatus.CLOSED:
        return made(Promise.CLOSED, view.closed_at)
    return made(Promise.ENDED, view.closed_at)

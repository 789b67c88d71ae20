"""What the customer owes the case (obligations, engineers' requests) and what happens when it
does not come: reminders, then a downgrade one level, and at C the case is closed unresponsive."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from support.policies.policy import Policy
from support.policies.vocabulary import Severity
from support.sla_clocks.calendar import Calendar

# Engineer requests a case may have outstanding at once (docs/security.md "Bounded state"): the next one is
# refused until the customer answers one, or the case is resolved.
MAX_OPEN_REQUESTS = 10


class RequestKind(StrEnum):
    OBLIGATION = "obligation"
    ENGINEER = "engineer"


class RequestState(StrEnum):
    OUTSTANDING = "outstanding"
    ANSWERED = "answered"  # the customer says it is provided (a reply, a comment, a tick): no timer runs
    ACCEPTED = "accepted"  # an engineer took what the customer provided
    WAIVED = "waived"


class CustomerRequest(BaseModel):
    request_id: str = Field(description="the obligation's name, or request-<n> for an engineer's request")
    kind: RequestKind
    what: str
    requested_by: str
    requested_at: datetime
    pauses_clock: bool = Field(description="waiting for it pauses the customer-update clock")
    due: datetime
    reminders: list[datetime] = Field(default_factory=list, description="reminder instants of this period")
    reminders_sent: int = 0
    state: RequestState = RequestState.OUTSTANDING
    answered_at: datetime | None = None
    answer: str | None = Field(default=None, description="an excerpt of the customer's answer")
    accepted_at: datetime | None = None
    accepted_by: str | None = Field(default=None, description="the engineer who accepted it")

    @property
    def outstanding(self) -> bool:
        return self.state is RequestState.OUTSTANDING


def asked_again(request: CustomerRequest, period: tuple[datetime, list[datetime]]) -> CustomerRequest:
    """An answered or accepted request outstanding again, with a fresh period (`cooperation_period`
    from the moment it is asked again): its reminders and due time start over."""
    due, reminders = period
    return request.model_copy(
        update={
            "state": RequestState.OUTSTANDING,
            "due": due,
            "reminders": reminders,
            "reminders_sent": 0,
            "answered_at": None,
            "answer": None,
            "accepted_at": None,
            "accepted_by": None,
        }
    )


def one_lower(severity: Severity) -> Severity | None:
    """The downgrade step: A -> B -> C -> none."""
    return {Severity.A: Severity.B, Severity.B: Severity.C, Severity.C: None}[severity]


def cooperation_period(
    policy: Policy, severity: Severity, calendar: Calendar, start: datetime
) -> tuple[datetime, list[datetime]]:
    """Due instant and reminder instants of one cooperation period, in business time."""
    allowed = policy.severities[severity].cooperation_due.on(calendar)
    reminders = [calendar.add(start, allowed * f) for f in policy.cooperation.reminders_at]
    return calendar.add(start, allowed), reminders


def new_request(
    policy: Policy,
    severity: Severity,
    calendar: Calendar,
    at: datetime,
    *,
    request_id: str,
    kind: RequestKind,
    what: str,
    requested_by: str,
    pauses_clock: bool,
) -> CustomerRequest:
    due, reminders = cooperation_period(policy, severity, calendar, at)
    return CustomerRequest(
        request_id=request_id,
        kind=kind,
        what=what,
        requested_by=requested_by,
        requested_at=at,
        pauses_clock=pauses_clock,
        due=due,
        reminders=reminders,
    )


def obligations_at(
    policy: Policy, severity: Severity, calendar: Calendar, at: datetime
) -> list[CustomerRequest]:
    """The obligations a case of this severity opens with (they do not pause the update clock)."""
    return [
        new_request(
            policy,
            severity,
            calendar,
            at,
            request_id=name,
            kind=RequestKind.OBLIGATION,
            what=policy.obligations[name],
            requested_by="policy",
            pauses_clock=False,
        )
        for name in policy.severities[severity].obligations
    ]


def waived_and_required_again(requests: list[CustomerRequest], policy: Policy, severity: Severity) -> bool:
    """An obligation the case waived (a lower severity, or resolved) that `severity` requires."""
    required = set(policy.severities[severity].obligations)
    return any(
        r.kind is RequestKind.OBLIGATION and r.state is RequestState.WAIVED and r.request_id in required
        for r in requests
    )


def after_severity_change(
    requests: list[CustomerRequest],
    policy: Policy,
    severity: Severity,
    calendar: Calendar,
    at: datetime,
    ask_waived_again: bool = True,
) -> list[CustomerRequest]:
    """Obligations follow the new severity (dropped ones waived, new ones asked for, and waived
    ones the new severity requires asked for again); every request still outstanding gets a fresh
    reasonable time on the new calendar from the change. `ask_waived_again` False: the rule of
    cases that changed severity before it, which never asked a waived obligation again."""
    required = set(policy.severities[severity].obligations)
    if ask_waived_again:  # asked again below, in the place of the waived one
        requests = [
            r
            for r in requests
            if not (
                r.kind is RequestKind.OBLIGATION
                and r.state is RequestState.WAIVED
                and r.request_id in required
            )
        ]
    result: list[CustomerRequest] = []
    for request in requests:
        if not request.outstanding:
            result.append(request)
        elif request.kind is RequestKind.OBLIGATION and request.request_id not in required:
            result.append(request.model_copy(update={"state": RequestState.WAIVED}))
        else:
            due, reminders = cooperation_period(policy, severity, calendar, at)
            result.append(
                request.model_copy(update={"due": due, "reminders": reminders, "reminders_sent": 0})
            )
    present = {r.request_id for r in requests if r.kind is RequestKind.OBLIGATION}
    result += [o for o in obligations_at(policy, severity, calendar, at) if o.request_id not in present]
    return result


def waive_all(requests: list[CustomerRequest]) -> list[CustomerRequest]:
    return [r.model_copy(update={"state": RequestState.WAIVED}) if r.outstanding else r for r in requests]


def waiting_on_customer(requests: list[CustomerRequest]) -> bool:
    """True while a request that pauses the provider's update clock is outstanding."""
    return any(r.outstanding and r.pauses_clock for r in requests)


def request_choices(requests: list[CustomerRequest]) -> dict[str, list[str]]:
    """The requests each action may name now, by the action's name (the console's suggestions):
    the customer answers what is outstanding; an engineer accepts an obligation outstanding or
    answered, and asks again for one answered or accepted."""
    obligations = [r for r in requests if r.kind is RequestKind.OBLIGATION]
    return {
        "cooperate": [r.request_id for r in requests if r.outstanding],
        "accept_obligation": [
            r.request_id for r in obligations if r.state in (RequestState.OUTSTANDING, RequestState.ANSWERED)
        ],
        "ask_obligation_again": [
            r.request_id for r in obligations if r.state in (RequestState.ANSWERED, RequestState.ACCEPTED)
        ],
    }


def open_engineer_requests(requests: list[CustomerRequest]) -> int:
    """Engineer requests still waiting for the customer (the ones `MAX_OPEN_REQUESTS` caps)."""
    return sum(r.outstanding and r.kind is RequestKind.ENGINEER for r in requests)

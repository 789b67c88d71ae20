"""What the case asks of the customer and what happens when it does not come: an engineer's
request (it pauses the customer-update clock while outstanding), the severity's obligations,
reminders, and at the due time a downgrade one level, or for a C case, closing it unresponsive.

An obligation the customer answers (an email reply, a portal answer) stops its reminders and its
downgrade timer at once; an engineer then accepts it, or asks for it again with a new due time
(the timer starts over and the customer is told why). Only an obligation that is neither answered
nor accepted by its due time lowers the severity."""

from __future__ import annotations

from datetime import datetime

from support.case.actions import (
    Cooperation,
    CustomerActionRequest,
    ObligationAcceptance,
    ObligationAskedAgain,
)
from support.case.effects import Decision
from support.case.record import CaseRecord
from support.case.view import ClockPause
from support.messaging.notifications import Notification
from support.messaging.routing import recipients
from support.policies.vocabulary import CaseStatus
from support.rules.cooperation import (
    MAX_OPEN_REQUESTS,
    CustomerRequest,
    RequestKind,
    RequestState,
    asked_again,
    cooperation_period,
    new_request,
    one_lower,
    open_engineer_requests,
    waiting_on_customer,
)
from support.rules.resolution import close_unresponsive
from support.rules.responses import touch
from support.rules.severity_changes import change_severity
from support.sla_clocks.clocks import pause_clock, resume_clock
from support.wording.excerpt import excerpt
from support.wording.reasons import ASKED, NOT_PROVIDED, Reason


def request_refusal(case: CaseRecord, action: CustomerActionRequest, now: datetime) -> str | None:
    if open_engineer_requests(case.view.customer_requests) >= MAX_OPEN_REQUESTS:
        return (
            f"cannot ask the customer: {MAX_OPEN_REQUESTS} requests are already waiting for their "
            "answer; wait for one, or resolve the case"
        )
    return None


def cooperation_refusal(case: CaseRecord, answer: Cooperation, now: datetime) -> str | None:
    """Why the case would ignore this answer: no such request, or it is no longer outstanding."""
    request = next((r for r in case.view.customer_requests if r.request_id == answer.request_id), None)
    if request is None:
        return f"the case has no request {answer.request_id!r}; nothing was asked under that name"
    if request.state is RequestState.ANSWERED:
        return f"request {answer.request_id!r} was already answered at {request.answered_at}"
    if request.state is RequestState.ACCEPTED:
        return f"request {answer.request_id!r} was already received and accepted at {request.accepted_at}"
    if request.state is RequestState.WAIVED:
        return f"request {answer.request_id!r} is no longer needed (waived)"
    return None


# Cases that took replies before it left their obligations outstanding (only a `cooperate` for
# each answered one): they replay so, and were downgraded for not providing what they had sent.
OBLIGATIONS_ANSWERED_BY_REPLY_PATCH = "obligations-answered-by-reply"


def answered_by_reply(case: CaseRecord, now: datetime, what: str) -> list[str]:
    """A customer's email reply answers every request still outstanding: the engineer's (the
    engineer asked by email; the reply is its answer; the update clock resumes) and the
    obligations (the acknowledgement asked for them by reply): their reminders and downgrade
    timers stop, and an engineer accepts each or asks for it again. Returns the ids answered."""
    requests = case.view.customer_requests
    engineer = [r for r in requests if r.kind is RequestKind.ENGINEER and r.outstanding]
    obligations = [r for r in requests if r.kind is RequestKind.OBLIGATION and r.outstanding]
    if not (obligations and case.patched(OBLIGATIONS_ANSWERED_BY_REPLY_PATCH)):
        obligations = []
    chosen = {id(r) for r in engineer + obligations}
    answered = [r for r in requests if id(r) in chosen]
    for request in answered:
        request.state = RequestState.ANSWERED
        request.answered_at = now
        request.answer = excerpt(what)
    if obligations:
        case.view.record(
            now,
            "obligations_answered",
            f"answered by email: {', '.join(r.request_id for r in obligations)}; "
            "support accepts each, or asks for it again",
            actor="customer",
        )
    if engineer:
        sync_pause(case, now, "customer", "the customer replied by email")
    return [r.request_id for r in answered]


def _request(case: CaseRecord, request_id: str) -> CustomerRequest:
    return next(r for r in case.view.customer_requests if r.request_id == request_id)


def sync_pause(case: CaseRecord, now: datetime, actor: str, reason: str) -> None:
    """Pause the update clock while a pausing request is outstanding; resume when none is."""
    view = case.view
    clock = view.customer_update
    if clock is None:
        return
    waiting = waiting_on_customer(view.customer_requests)
    if waiting and clock.running:
        view.customer_update = pause_clock(clock, now)
        view.pauses.append(ClockPause(paused_at=now, paused_by=actor, reason=reason))
        view.record(now, "clock_paused", f"customer-update clock paused: {reason}", actor=actor)
    elif not waiting and not clock.running and view.status is CaseStatus.IN_PROGRESS:
        view.customer_update = resume_clock(clock, case.clock_terms, now)
        if view.pauses and view.pauses[-1].resumed_at is None:
            view.pauses[-1].resumed_at = now
            view.pauses[-1].resumed_by = actor
        view.record(now, "clock_resumed", f"customer-update clock resumed: {reason}", actor=actor)


def ask(case: CaseRecord, action: CustomerActionRequest, now: datetime, decision: Decision) -> None:
    view = case.view
    assert view.severity is not None
    view.engineer_requests += 1  # answered requests leave the list: never number from its length
    number = view.engineer_requests
    request = new_request(
        case.rules,
        view.severity,
        case.calendar,
        now,
        request_id=f"request-{number}",
        kind=RequestKind.ENGINEER,
        what=action.what,
        requested_by=action.engineer,
        pauses_clock=action.pauses_clock,
    )
    view.customer_requests.append(request)
    what = excerpt(action.what)
    view.record(now, "customer_action_requested", f"{request.request_id}: {what}", action.engineer)
    sync_pause(case, now, action.engineer, f"waiting for the customer: {what}")
    touch(case, now, action.engineer, decision)
    decision.tell(
        recipients(
            case,
            "customer_action_requested",
            {"request_id": request.request_id, "what": action.what},
            {"due": request.due},
            sequence=number,
        )
    )


def cooperated(case: CaseRecord, answer: Cooperation, now: datetime, decision: Decision) -> None:
    view = case.view
    request = next(
        (r for r in view.customer_requests if r.request_id == answer.request_id and r.outstanding), None
    )
    if request is None:
        view.record(
            now, "cooperation_unmatched", f"customer sent {answer.request_id!r}, which is not outstanding"
        )
        return
    request.state = RequestState.ANSWERED
    request.answered_at = now
    request.answer = excerpt(answer.details)  # in full: in the notification and the history
    view.record(
        now,
        "customer_cooperated",
        f"{request.request_id}: {excerpt(request.what)} received",
        actor="customer",
    )
    sync_pause(case, now, "customer", "the customer answered")
    touch(case, now, None, decision)
    # Numbered: under one id, the second answer's notice was the first one's, and the delivery
    # ledger dropped it as a repeat (cases carried over numbered none: they start again at 1).
    view.cooperations_received += 1
    decision.tell(
        recipients(
            case,
            "customer_cooperated",
            {"request_id": request.request_id, "details": answer.details},
            sequence=view.cooperations_received,
        )
    )


def acceptance_refusal(case: CaseRecord, action: ObligationAcceptance, now: datetime) -> str | None:
    return obligation_refusal(case, action.request_id, accepting=True)


def asked_again_refusal(case: CaseRecord, action: ObligationAskedAgain, now: datetime) -> str | None:
    return obligation_refusal(case, action.request_id, accepting=False)


def obligation_refusal(case: CaseRecord, request_id: str, accepting: bool) -> str | None:
    """Why an engineer may not accept (`accepting`) or ask again for this request: it must be an
    obligation of the case, not waived; one accepts what is outstanding or answered, and asks
    again for what is answered or accepted."""
    verb = "accept" if accepting else "ask again for"
    request = next((r for r in case.view.customer_requests if r.request_id == request_id), None)
    if request is None or request.kind is not RequestKind.OBLIGATION:
        names = [r.request_id for r in case.view.customer_requests if r.kind is RequestKind.OBLIGATION]
        listed = ", ".join(names) or "none"
        return f"cannot {verb} {request_id!r}: it is not an obligation of this case (they are: {listed})"
    if request.state is RequestState.WAIVED:
        return f"cannot {verb} {request_id!r}: it is no longer needed (waived)"
    if accepting and request.state is RequestState.ACCEPTED:
        return f"cannot {verb} {request_id!r}: {request.accepted_by} accepted it at {request.accepted_at}"
    if not accepting and request.state is RequestState.OUTSTANDING:
        return f"cannot {verb} {request_id!r}: it is still outstanding, due {request.due.isoformat()}"
    return None


def accept(case: CaseRecord, action: ObligationAcceptance, now: datetime, decision: Decision) -> None:
    """The obligation is settled: no reminder, no downgrade, whatever the severity does next."""
    request = _request(case, action.request_id)
    how = "as answered by the customer" if request.state is RequestState.ANSWERED else "received"
    request.state = RequestState.ACCEPTED
    request.accepted_at = now
    request.accepted_by = action.engineer
    what = f"{request.request_id}: {excerpt(request.what)} accepted, {how}"
    case.view.record(now, "obligation_accepted", what, action.engineer)
    touch(case, now, None, decision)


def ask_again(case: CaseRecord, action: ObligationAskedAgain, now: datetime, decision: Decision) -> None:
    """Outstanding again with a new period from now (the reminders and the downgrade timer start
    over); the customer is told what, why, and by when."""
    view = case.view
    assert view.severity is not None
    index = next(i for i, r in enumerate(view.customer_requests) if r.request_id == action.request_id)
    period = cooperation_period(case.rules, view.severity, case.calendar, now)
    request = asked_again(view.customer_requests[index], period)
    view.customer_requests[index] = request
    view.record(
        now,
        "obligation_asked_again",
        f"{request.request_id}: {excerpt(request.what)} asked again (due {request.due.isoformat()}): "
        f"{excerpt(action.reason)}",
        action.engineer,
    )
    touch(case, now, None, decision)
    view.obligations_asked_again += 1
    decision.tell(
        recipients(
            case,
            "obligation_asked_again",
            {"why": action.reason},
            {"due": request.due},
            sequence=view.obligations_asked_again,
            reasons={"what": [Reason(code=ASKED, params=_what(request))]},
        )
    )


def remind(case: CaseRecord, request_id: str, now: datetime, decision: Decision) -> None:
    view = case.view
    request = _request(case, request_id)
    request.reminders_sent += 1
    view.cooperation_reminders_sent += 1  # the timeline is trimmed: never count its entries
    view.record(
        now, "cooperation_reminder", f"reminded the customer: {excerpt(request.what)} (due {request.due})"
    )
    decision.tell(
        recipients(
            case,
            f"cooperation_reminder_{request.request_id}",
            {"what": request.what} if request.kind is RequestKind.ENGINEER else {},
            {"due": request.due},
            sequence=view.cooperation_reminders_sent,
            reasons={"what": [Reason(code=ASKED, params=_what(request))]},
        )
    )


def came_due(case: CaseRecord, request_id: str, now: datetime, decision: Decision) -> None:
    """Not provided in time: one severity lower (both sides told why), or closed at C."""
    request = _request(case, request_id)
    assert case.view.severity is not None
    lower = one_lower(case.view.severity)
    why = f"the customer did not provide {request.what} in time (due {request.due.isoformat()})"
    said = Reason(code=NOT_PROVIDED, params=_what(request), times={"due": request.due})
    if lower is None:
        close_unresponsive(case, why, said, now, decision)
    else:
        change_severity(case, lower, "system", f"downgraded: {why}", now, decision, downgrade=True, said=said)


def _what(request: CustomerRequest) -> dict[str, str]:
    """What was asked, for a phrase: an obligation by its name (a phrase of its own in every
    language), an engineer's request in the engineer's words."""
    if request.kind is RequestKind.OBLIGATION:
        return {"obligation": request.request_id, "what": request.what}
    return {"what": request.what}


# Cases before it only showed a failed notification: the assignee was not told, and a customer who
# could not be reached left the contact-data obligation as it was.
UNREACHABLE_CUSTOMER_PATCH = "unreachable-customer-tells-the-assignee"
CONTACT_DATA = "contact_data"  # the policy's obligation to keep contact data accurate


def customer_unreachable(
    case: CaseRecord, failed: Notification, reason: str, now: datetime, decision: Decision
) -> None:
    """A message to the customer's side could not be delivered (refused, or bounced later): the
    assignee is told (or the support queue while nobody holds the case), and on an open case the
    contact-data obligation counts as not met: answered or accepted, it is outstanding again with a
    new period from now, so its reminders and downgrade timer run until the customer's contact
    data is put right (an engineer accepts it, or the customer answers)."""
    view = case.view
    obligations = [r for r in view.customer_requests if r.kind is RequestKind.OBLIGATION]
    obligation = next((r for r in obligations if r.request_id == CONTACT_DATA), None)
    times: dict[str, datetime] = {}
    if obligation is not None and view.status.is_open and view.severity is not None:
        if obligation.state in (RequestState.ANSWERED, RequestState.ACCEPTED):
            period = cooperation_period(case.rules, view.severity, case.calendar, now)
            index = view.customer_requests.index(obligation)
            obligation = asked_again(obligation, period)
            view.customer_requests[index] = obligation
        if obligation.outstanding:
            times["contact_data_due"] = obligation.due
            view.record(
                now,
                "obligation_not_met",
                f"{CONTACT_DATA}: the customer could not be reached ({failed.event}); due "
                f"{obligation.due.isoformat()}",
            )
    sequence = len(view.failed_notifications) + view.failed_notifications_omitted
    decision.tell(
        recipients(
            case,
            "notification_failed",
            {"failed_event": failed.event, "audience": failed.audience.value, "server_said": reason},
            times,
            sequence=sequence,
        )
    )

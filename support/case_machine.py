"""The case as a state machine: `decide(case, event, now)` changes the case's record and returns
what the workflow must carry out, in order (`support.case_effects`). Pure: no I/O, no clock but
`now`, no randomness; every rule lives in the module named for it, and this one only dispatches.

`refusal(case, action, now)` says why an engineer's or customer's action (or an email reply) may
not happen now (the workflow's update validators); a refused action changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from support.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    CustomerReply,
    CustomerUpdate,
    FirstResponse,
    InternalNote,
    ObligationAcceptance,
    ObligationAskedAgain,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
    Withdrawal,
)
from support.agenda import Wake, WakeUp, agenda
from support.assignment import assign, assign_refusal, noted
from support.case_attributes import DERIVED_PATCH, derive, waypoint
from support.case_context import CaseContext
from support.case_effects import Decision
from support.case_events import (
    CodeNotSent,
    CodeSent,
    DeliveryFailed,
    Event,
    TimePassed,
    VerificationWaitOver,
)
from support.case_record import CaseRecord
from support.clocks import ClockName
from support.customer_replies import received, reply_refusal
from support.customer_requests import (
    UNREACHABLE_CUSTOMER_PATCH,
    accept,
    ask,
    ask_again,
    came_due,
    cooperated,
    cooperation_refusal,
    customer_unreachable,
    obligation_refusal,
    remind,
    request_refusal,
)
from support.excerpt import excerpt
from support.next_deadline import publish
from support.notifications import FailedNotification
from support.opening import context_loaded
from support.phone_verification import attempt_refusal, attempted, code_not_sent, code_sent, wait_over
from support.resolution import (
    close,
    remind_survey,
    reopen,
    reopen_refusal,
    resolve,
    survey_answered,
    survey_expired,
    survey_refusal,
)
from support.responses import customer_update, follow_up, respond
from support.severity_changes import change_refusal, engineer_change
from support.sla_checkpoints import checkpoint_reached
from support.thread import keep_message
from support.verification import SealedAttempt
from support.vocabulary import CaseStatus
from support.withdrawal import withdraw, withdrawal_refusal

Step = Callable[[CaseRecord, Any, datetime, Decision], None]


def _time_passed(case: CaseRecord, _: TimePassed, now: datetime, decision: Decision) -> None:
    """Every wake-up that is due, one at a time: each may change what comes next."""
    while True:
        due = [w for w in agenda(case.view, case.calendar, case.rules) if w.at <= now]
        if not due:
            return
        _wake(case, due[0], now, decision)


def _wake(case: CaseRecord, wake: WakeUp, now: datetime, decision: Decision) -> None:
    if wake.kind is Wake.CLOCK_CHECKPOINT:
        checkpoint_reached(case, ClockName(wake.ref), now, decision)
    elif wake.kind is Wake.COOPERATION_REMINDER:
        remind(case, wake.ref, now, decision)
    elif wake.kind is Wake.COOPERATION_DUE:
        came_due(case, wake.ref, now, decision)
    elif wake.kind is Wake.IDLE_FOLLOW_UP:
        follow_up(case, now, decision)
    elif wake.kind is Wake.REOPEN_WINDOW_END:
        close(case, now, decision)
    elif wake.kind is Wake.SURVEY_REMINDER:
        remind_survey(case, now, decision)
    elif wake.kind is Wake.SURVEY_TIMEOUT:
        survey_expired(case, now)


def _delivery_failed(case: CaseRecord, event: DeliveryFailed, now: datetime, decision: Decision) -> None:
    """Shown in the case and alerted on (operators' metric and log), never dropped silently."""
    notification, reason = event.notification, excerpt(event.reason)  # a server's error text, kept short
    case.view.failed_notifications.append(
        FailedNotification(
            notification_id=notification.notification_id,
            event=notification.event,
            audience=notification.audience,
            reason=reason,
            at=now,
        )
    )
    case.view.record(
        now,
        "notification_failed",
        f"{notification.event} to {notification.audience.value}: {reason}",
        internal=True,
    )
    decision.log(
        "error",
        "notification permanently failed",
        notification_id=notification.notification_id,
        audience=notification.audience.value,
    )
    decision.count(
        "casework_notifications_failed",
        "notifications that could not be delivered on any route",
        event=notification.template,
        audience=notification.audience.value,
    )
    if notification.audience.customer_side and case.patched(UNREACHABLE_CUSTOMER_PATCH):
        customer_unreachable(case, notification, reason, now, decision)
    decision.wake = True


ALREADY_FAILED = "this notification is already marked failed on the case"


def failure_refusal(case: CaseRecord, event: DeliveryFailed) -> str | None:
    """Why a report that a notification failed (a bounce, `notification_bounced`) changes nothing:
    the case already shows it failed (a second report for the same mail)."""
    if any(f.notification_id == event.notification.notification_id for f in case.view.failed_notifications):
        return ALREADY_FAILED
    return None


def _verification_over(case: CaseRecord, _: VerificationWaitOver, now: datetime, decision: Decision) -> None:
    wait_over(case, now, decision)


STEPS: dict[type[BaseModel], Step] = {
    CaseContext: context_loaded,
    CodeSent: code_sent,
    CodeNotSent: code_not_sent,
    VerificationWaitOver: _verification_over,
    SealedAttempt: attempted,
    FirstResponse: respond,
    CustomerUpdate: customer_update,
    CustomerActionRequest: ask,
    SeverityChangeRequest: engineer_change,
    Resolution: resolve,
    ReopenRequest: reopen,
    Cooperation: cooperated,
    ObligationAcceptance: accept,
    ObligationAskedAgain: ask_again,
    SurveyAnswer: survey_answered,
    Assignment: assign,
    InternalNote: noted,
    Withdrawal: withdraw,
    CustomerReply: received,
    TimePassed: _time_passed,
    DeliveryFailed: _delivery_failed,
}


def decide(case: CaseRecord, event: Event, now: datetime) -> Decision:
    """The case after `event` at `now` (changed in place), and the effects to carry out."""
    decision = Decision()
    if case.inputs is not None:
        digest = event.policy_digest if isinstance(event, CaseContext) else None
        case.inputs.note(now, event, digest)
    # Cases that run this code derive their upsert and wake (support.case_attributes); cases
    # from before replay the ones their steps set by hand.
    before = waypoint(case) if case.patched(DERIVED_PATCH) else None
    recorded = case.view.timeline_omitted + len(case.view.timeline)
    STEPS[type(event)](case, event, now, decision)
    if case.view.timeline_omitted + len(case.view.timeline) != recorded:  # the case took it
        keep_message(case, event, now, decision)
    case.view.note_holder(now)
    if before is None:
        publish(case, decision)
    else:
        derive(case, before, decision)
    return decision


# -- whether an action may happen now ------------------------------------------------------------

_VERBS: dict[type[BaseModel], str] = {
    FirstResponse: "respond",
    CustomerUpdate: "update the customer",
    CustomerActionRequest: "ask the customer",
    SeverityChangeRequest: "change the severity",
    Resolution: "resolve",
    Assignment: "assign",
    InternalNote: "add a note",
    Withdrawal: "withdraw",
    Cooperation: "take this answer",
    ObligationAcceptance: "accept an obligation",
    ObligationAskedAgain: "ask for an obligation again",
    CustomerReply: "take a reply",
}


def refusal(case: CaseRecord, action: BaseModel, now: datetime, moving: bool = False) -> str | None:
    """Why `action` may not happen now, or None. `moving`: the case is settling before it
    continues as new, and takes no action that would start a delivery until the new run (a
    survey answer starts none, and a repeated reply is refused as such whatever the case does)."""
    if isinstance(action, SealedAttempt):
        return attempt_refusal(case, action)
    if isinstance(action, ReopenRequest):
        return reopen_refusal(case, now)
    if isinstance(action, SurveyAnswer):
        return survey_refusal(case)  # starts no delivery: taken while the case moves too
    if isinstance(action, DeliveryFailed):  # a bounce: taken in any status, once
        return failure_refusal(case, action) or (_MOVING.format(verb="take a bounce") if moving else None)
    if isinstance(action, CustomerReply):
        # A repeat is refused as such whatever the case does now (the inbound side's exactly-once).
        return reply_refusal(case, action) or (_MOVING.format(verb="take a reply") if moving else None)
    verb = _VERBS[type(action)]
    status = case.view.status
    if moving:
        # Accepted now, it would start a delivery the continue-as-new must wait for: a steady
        # stream of actions would keep the case from ever continuing as new.
        return _MOVING.format(verb=verb)
    if status is CaseStatus.NEW:
        return f"cannot {verb}: the case is still being opened; try again in a moment"
    if isinstance(action, Withdrawal):
        return withdrawal_refusal(case)
    if isinstance(action, InternalNote):
        return None  # staff may note on a resolved or closed case while it runs
    if isinstance(action, Cooperation):
        return cooperation_refusal(case, action)
    if not status.is_open:
        return f"cannot {verb}: the case is {status.value}"
    if isinstance(action, FirstResponse):
        clock = case.view.first_response
        assert clock is not None
        if clock.answered_at is not None:
            return f"the first response was already given by {clock.answered_by} at {clock.answered_at}"
    elif isinstance(action, CustomerUpdate | CustomerActionRequest) and status is not CaseStatus.IN_PROGRESS:
        return f"cannot {verb}: the case is {status.value}; give the first response first"
    elif isinstance(action, CustomerActionRequest):
        return request_refusal(case)
    elif isinstance(action, SeverityChangeRequest):
        return change_refusal(case, action)
    elif isinstance(action, Assignment):
        return assign_refusal(case, action)
    elif isinstance(action, ObligationAcceptance | ObligationAskedAgain):
        return obligation_refusal(case, action.request_id, accepting=isinstance(action, ObligationAcceptance))
    return None


_MOVING = (
    "cannot {verb} right now: the case is moving to a new run (its history is long); "
    "send it again in a moment"
)
MOVING_MARK = "send it again in a moment"  # how a caller recognises a refusal worth retrying soon

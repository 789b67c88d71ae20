"""The case as a state machine: `decide(case, event, now)` changes the case's record and returns
what the workflow must carry out, in order (`support.case.effects`). Pure: no I/O, no clock but
`now`, no randomness; every rule lives in the module named for it, and this one only dispatches.

`refusal(case, action, now)` says why an engineer's or customer's action (or an email reply) may
not happen now (the workflow's update validators); a refused action changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from pydantic import BaseModel

from support.case.action_table import MOVING_MARK as MOVING_MARK  # re-exported: the intake's import
from support.case.action_table import action_of, is_action, moving_refusal
from support.case.agenda import Wake, WakeUp, agenda
from support.case.attributes import DERIVED_PATCH, derive, waypoint
from support.case.context import CaseContext
from support.case.effects import Decision
from support.case.events import (
    CodeNotSent,
    CodeSent,
    DeliveryFailed,
    Event,
    TimePassed,
    VerificationWaitOver,
)
from support.case.next_deadline import publish
from support.case.record import CaseRecord
from support.case.thread import keep_message
from support.identity.phone_verification import (
    attempt_refusal,
    attempted,
    code_not_sent,
    code_sent,
    wait_over,
)
from support.identity.verification import SealedAttempt
from support.messaging.notifications import FailedNotification
from support.rules.customer_requests import UNREACHABLE_CUSTOMER_PATCH, came_due, customer_unreachable, remind
from support.rules.opening import context_loaded
from support.rules.resolution import close, remind_survey, survey_expired
from support.rules.responses import follow_up
from support.sla_clocks.checkpoints import checkpoint_reached
from support.sla_clocks.clocks import ClockName
from support.wording.excerpt import excerpt


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


def failure_refusal(case: CaseRecord, event: DeliveryFailed, moving: bool = False) -> str | None:
    """Why a report that a notification failed (a bounce, `notification_bounced`) changes nothing:
    the case already shows it failed (a second report for the same mail). Taken in any status,
    once, and not while the case moves to a new run."""
    if any(f.notification_id == event.notification.notification_id for f in case.view.failed_notifications):
        return ALREADY_FAILED
    return moving_refusal("take a bounce", moving)


def _verification_over(case: CaseRecord, _: VerificationWaitOver, now: datetime, decision: Decision) -> None:
    wait_over(case, now, decision)


def _step(case: CaseRecord, event: Event, now: datetime, decision: Decision) -> None:
    """The step of each kind of event: a person's action, the step its row in
    `support.case.action_table` names; any other, the step listed here. Exhaustive for mypy: an `Event`
    added with no step here fails `assert_never` (`make lint` shows it: scripts/missing_step.py)."""
    if is_action(event):
        action_of(event).step(case, event, now, decision)
        return
    match event:
        case CaseContext():
            context_loaded(case, event, now, decision)
        case CodeSent():
            code_sent(case, event, now, decision)
        case CodeNotSent():
            code_not_sent(case, event, now, decision)
        case VerificationWaitOver():
            _verification_over(case, event, now, decision)
        case SealedAttempt():
            attempted(case, event, now, decision)
        case TimePassed():
            _time_passed(case, event, now, decision)
        case DeliveryFailed():
            _delivery_failed(case, event, now, decision)
        case _:
            assert_never(event)


def decide(case: CaseRecord, event: Event, now: datetime) -> Decision:
    """The case after `event` at `now` (changed in place), and the effects to carry out."""
    decision = Decision()
    if case.inputs is not None:
        digest = event.policy_digest if isinstance(event, CaseContext) else None
        case.inputs.note(now, event, digest)
    # Cases that run this code derive their upsert and wake (support.case.attributes); cases
    # from before replay the ones their steps set by hand.
    before = (case.waypoint or waypoint(case)) if case.patched(DERIVED_PATCH) else None
    recorded = case.view.timeline_omitted + len(case.view.timeline)
    _step(case, event, now, decision)
    if case.view.timeline_omitted + len(case.view.timeline) != recorded:  # the case took it
        keep_message(case, event, now, decision)
    case.view.note_holder(now)
    if before is None:
        publish(case, decision)
    else:
        derive(case, before, decision)
    return decision


# -- whether an action may happen now ------------------------------------------------------------


def refusal(case: CaseRecord, action: BaseModel, now: datetime, moving: bool = False) -> str | None:
    """Why `action` may not happen now, or None: the rule of its row in `support.case.action_table` (its
    status gate, then its own rule), or of the verification and the bounce. `moving`: the case is
    settling before it continues as new, and takes no action that would start a delivery until the
    new run."""
    match action:
        case SealedAttempt():
            return attempt_refusal(case, action)
        case DeliveryFailed():
            return failure_refusal(case, action, moving)
        case _:
            return action_of(action).refused(case, action, now, moving)

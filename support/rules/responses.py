"""What the provider owes the customer once a case is open: a first response within the
first-response target, then an update every customer-update period (each starts the next cycle),
and a follow-up to the assigned engineer when the case has been idle too long."""

from __future__ import annotations

from datetime import datetime

from support.case.actions import CustomerUpdate, FirstResponse
from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.case.status import move_to
from support.messaging.routing import recipients
from support.policies.vocabulary import CaseStatus
from support.rules.cooperation import waiting_on_customer
from support.sla_clocks.clocks import ClockName, answer_clock, next_cycle, start_clock
from support.wording.excerpt import excerpt

# Cases that gave their first response before the assignee was a search attribute did not set it:
# they replay so. From then on the responder, assigned by answering, is listed under the attribute.
ASSIGNEE_ATTRIBUTE_PATCH = "assignee-search-attribute"


def touch(case: CaseRecord, now: datetime, engineer: str | None, decision: Decision) -> None:
    """Activity on the case: resets the idle follow-up (and the agenda is looked at again)."""
    case.view.last_activity_at = now
    if engineer is not None:
        case.view.assigned_engineer = case.view.assigned_engineer or engineer
    decision.wake = True


def response_refusal(case: CaseRecord, action: FirstResponse, now: datetime) -> str | None:
    """A case has one first response (the action's status gate has checked the case is open)."""
    clock = case.view.first_response
    assert clock is not None
    if clock.answered_at is not None:
        return f"the first response was already given by {clock.answered_by} at {clock.answered_at}"
    return None


def respond(case: CaseRecord, action: FirstResponse, now: datetime, decision: Decision) -> None:
    first_response(case, action.engineer, action.message, now, decision)


def first_response(case: CaseRecord, engineer: str, message: str, now: datetime, decision: Decision) -> None:
    """The first response stops the first-response clock (met or breached) and starts the
    customer-update clock; the responding engineer is assigned unless an agent assigned the case
    to someone before (an explicit assignment stands)."""
    view = case.view
    assert view.first_response is not None and view.severity is not None
    clock = answer_clock(view.first_response, case.calendar, now, engineer)
    view.first_response = clock
    if clock.breached_at is not None and not view.sla_breached:
        view.sla_breached = True  # answered late in the same instant the breach came due
        decision.set((CaseAttribute.SLA_BREACHED, True))
    move_to(view, CaseStatus.IN_PROGRESS)
    view.assigned_engineer = view.assigned_engineer or engineer
    view.customer_update = start_clock(
        ClockName.CUSTOMER_UPDATE, case.clock_terms, case.rules.severities[view.severity].customer_update, now
    )
    view.record(
        now, "first_response", f"first response ({clock.state.value}): {excerpt(message)}", actor=engineer
    )
    severity = view.severity.value
    decision.count(
        "casework_first_response_sla",
        "first responses by SLA result",
        result=clock.state.value,
        severity=severity,
    )
    if view.opened_at is not None and clock.business_time_to_answer is not None:
        wall = (now - view.opened_at).total_seconds()
        business = clock.business_time_to_answer.total_seconds()
        decision.observe(
            "casework_time_to_first_response", "wall-clock time to first response", wall, severity=severity
        )
        decision.observe(
            "casework_business_time_to_first_response",
            "business time to first response",
            business,
            severity=severity,
        )
    decision.tell(recipients(case, "first_response", {"engineer": engineer, "message": message}))
    touch(case, now, engineer, decision)
    attributes: list[tuple[CaseAttribute, str | bool | datetime]] = [
        (CaseAttribute.STATUS, CaseStatus.IN_PROGRESS.value)
    ]
    if case.patched(ASSIGNEE_ATTRIBUTE_PATCH):
        attributes.append((CaseAttribute.ASSIGNED_ENGINEER, view.assigned_engineer))
    decision.set(*attributes)


def customer_update(case: CaseRecord, action: CustomerUpdate, now: datetime, decision: Decision) -> None:
    """An update answers this cycle of the update clock and starts the next (paused at once while
    the customer owes an answer that pauses it)."""
    view = case.view
    assert view.customer_update is not None
    clock = answer_clock(view.customer_update, case.calendar, now, action.engineer)
    view.customer_update = next_cycle(
        clock, case.clock_terms, now, paused=waiting_on_customer(view.customer_requests)
    )
    view.record(
        now,
        "customer_updated",
        f"customer update ({clock.state.value}): {excerpt(action.message)}",
        action.engineer,
    )
    touch(case, now, action.engineer, decision)
    decision.tell(
        recipients(
            case,
            "customer_update",
            {"engineer": action.engineer, "message": action.message},
            sequence=clock.cycle,
        )
    )


def follow_up(case: CaseRecord, now: datetime, decision: Decision) -> None:
    """Nothing happened on an in-progress case for the severity's idle time: remind its engineer."""
    view = case.view
    view.follow_ups_sent += 1
    view.last_activity_at = now
    view.record(
        now, "follow_up", f"no activity for a while; reminded {view.assigned_engineer}", internal=True
    )
    decision.tell(
        recipients(
            case, "follow_up", {"engineer": str(view.assigned_engineer)}, sequence=view.follow_ups_sent
        )
    )

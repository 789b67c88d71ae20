"""The search attributes a case publishes, derived from its view, and when the case must look at
its agenda again, derived from the agenda (issue 27, and issue 26's "one upsert per decision").

Before, each step set the attributes it thought it changed (`Decision.set`, paired by hand with
the status it wrote) and said by hand whether the agenda changed (`Decision.wake`): a forgotten
set was a stale queue, a forgotten wake a case sleeping past a deadline. Now, for a case that runs
this code (`DERIVED_PATCH`), the machine computes after every decision what the case publishes
(`published(view)`, one pure function) and upserts only what differs from what it last published,
in one upsert or none; and it wakes the workflow when the first item of the agenda, or whether the
case is done, differs from before the decision. Cases from before replay their hand-set upserts
and wakes unchanged (the server checks an upsert's keys on replay).

What is published is what something reads: the intake's listing and the console's queue
(`application.case_listing`: status, severity, first-response due, next deadline, paused, breached,
assignee) and operators' visibility queries by incident (docs/configuration.md). The starter sets
the rest (tenant, category, requester key) once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from support.case.agenda import agenda, case_done
from support.case.effects import AttributeValue, CaseAttribute, Decision, SetAttributes
from support.case.next_deadline import NO_DEADLINE_AT, next_deadline
from support.case.view import CaseView

if TYPE_CHECKING:
    from support.case.record import CaseRecord

DERIVED_PATCH = "attributes-and-wake-derived"

Published = Mapping[CaseAttribute, AttributeValue]


def published(view: CaseView) -> dict[CaseAttribute, AttributeValue]:
    """The search attributes a case in `view` publishes (pure). An attribute with no value yet is
    left out, never unset: an unset Datetime comes back as null, which the SDK cannot decode."""
    values: dict[CaseAttribute, AttributeValue] = {
        CaseAttribute.STATUS: view.status.value,
        CaseAttribute.SLA_BREACHED: view.sla_breached,
    }
    if view.severity is not None:
        values[CaseAttribute.SEVERITY] = view.severity.value
    if view.first_response is not None:  # opened: it has deadlines
        if view.first_response.due is not None:
            values[CaseAttribute.FIRST_RESPONSE_DUE] = view.first_response.due
        deadline = next_deadline(view)
        values[CaseAttribute.NEXT_DEADLINE] = NO_DEADLINE_AT if deadline.at is None else deadline.at
        values[CaseAttribute.CLOCK_PAUSED] = deadline.paused
    if view.incident is not None:
        values[CaseAttribute.INCIDENT_ID] = view.incident.incident_id
    if view.assigned_engineer is not None:
        values[CaseAttribute.ASSIGNED_ENGINEER] = view.assigned_engineer
    return values


def changed(before: Published | None, after: Published) -> tuple[tuple[CaseAttribute, AttributeValue], ...]:
    """What of `after` differs from `before` (everything when `before` is not known)."""
    return tuple((k, v) for k, v in after.items() if before is None or before.get(k) != v)


Waypoint = tuple[datetime | None, bool]


def waypoint(case: CaseRecord) -> Waypoint:
    """What the workflow's sleep depends on: the first instant of the agenda, and whether the
    case is done (then the run ends). A decision that changes it wakes the workflow."""
    view = case.view
    if view.severity is None or case.policy is None:  # not opened: no agenda yet
        return None, case_done(view)
    upcoming = agenda(view, case.calendar, case.rules)
    return (upcoming[0].at if upcoming else None), case_done(view)


def derive(case: CaseRecord, before: Waypoint, decision: Decision) -> None:
    """After a decision of a case on the derived path: the hand-set upserts are dropped, and one
    upsert of what changed (or none) ends the decision; `wake` says whether the sleep changed."""
    decision.effects = [e for e in decision.effects if not isinstance(e, SetAttributes)]
    now_published = published(case.view)
    upsert = changed(case.attributes, now_published)
    if upsert:
        decision.effects.append(SetAttributes(upsert))
    case.attributes = now_published
    after = waypoint(case)
    case.waypoint = after
    decision.wake = after != before

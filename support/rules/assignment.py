"""Who holds a case, and what staff say to each other about it.

An agent assigns (or hands over) an open case to an engineer of the staff list: the assignee is
told, the case's `AssignedEngineer` search attribute follows, and from then on follow-ups and the
customer's replies reach the assignee. An internal note is kept with the case for staff and told
to nobody. Both are internal timeline entries: the customer's view never shows them.
"""

from __future__ import annotations

from datetime import datetime

from support.case.actions import Assignment, InternalNote
from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.case.view import NOTE_KEPT_MAX, NoteEntry
from support.messaging.routing import recipients
from support.wording.excerpt import excerpt


def assign_refusal(case: CaseRecord, action: Assignment, now: datetime) -> str | None:
    """Open cases only (the caller checked the status); the holder cannot be assigned again."""
    if case.view.assigned_engineer == action.assignee:
        return f"cannot assign: {action.assignee} already holds the case"
    return None


def assign(case: CaseRecord, action: Assignment, now: datetime, decision: Decision) -> None:
    """The case changes hands. A handover counts as activity: the new assignee's idle follow-up
    is measured from it."""
    view = case.view
    previous = view.assigned_engineer
    view.assigned_engineer = action.assignee
    view.assignments += 1
    view.last_activity_at = now
    view.record(
        now,
        "assigned",
        f"assigned to {action.assignee} (was {previous or 'unassigned'}) by {action.engineer}: "
        f"{excerpt(action.reason)}",
        actor=action.engineer,
        internal=True,
    )
    decision.set((CaseAttribute.ASSIGNED_ENGINEER, action.assignee))
    decision.tell(
        recipients(
            case,
            "assigned",
            {
                "engineer": action.engineer,
                "assignee": action.assignee,
                "previous": previous or "-",
                "reason": action.reason,
            },
            sequence=view.assignments,
        )
    )
    decision.count("casework_assignments", "cases assigned or handed over")
    decision.wake = True


def noted(case: CaseRecord, action: InternalNote, now: datetime, decision: Decision) -> None:
    """Kept for staff, told to nobody. Not activity for the idle follow-up: a note moves nothing
    forward for the customer, so the reminder to act still comes."""
    view = case.view
    view.notes.append(NoteEntry(at=now, engineer=action.engineer, note=excerpt(action.note, NOTE_KEPT_MAX)))
    view.record(now, "note", f"note: {excerpt(action.note)}", actor=action.engineer, internal=True)

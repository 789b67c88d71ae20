"""What the customer's side (portal and phone keys) sees of a case (pure).

The case keeps one view for everyone (`support.case_view`); staff read all of it. The customer's
side gets this copy of it: without the internal timeline entries (notes, assignments, reminders to
engineers, failed deliveries), the notes themselves, and the fields only staff act on (who holds
the case, delivery failures, follow-ups sent). Every answer the intake gives a portal or phone
key goes through it, so a note cannot reach the customer through any view.
"""

from __future__ import annotations

from support.case_view import CaseView


def customer_view(view: CaseView) -> CaseView:
    """A copy of `view` without what is for staff only (`view` itself is not changed)."""
    return view.model_copy(
        update={
            "timeline": [entry for entry in view.timeline if not entry.internal],
            "notes": [],
            "notes_omitted": 0,
            "assigned_engineer": None,
            "failed_notifications": [],
            "failed_notifications_omitted": 0,
            "follow_ups_sent": 0,
            "assignments": 0,
        }
    )

"""What the customer's side (portal and phone keys) sees of a case (pure).

The case keeps one view for everyone (`support.case.view`); staff read all of it. The customer's
side gets this copy of it: without the staff-only timeline entries (notes, assignments, reminders
to engineers, failed deliveries), the notes themselves, and the fields only staff act on (who holds
the case, delivery failures, follow-ups sent); and without staff's names: whoever on the provider's
side acted (answered, asked for something, paused a clock, changed the severity, resolved) is shown
by `support.wording.names.shown_name` (their display name, or the policy's support name). Every answer
the intake gives a portal or phone key goes through it, so a note cannot reach the customer
through any view.

An entry is left out by its kind as well as by its `internal` flag: entries recorded before the
flag existed were read back with `internal=False`, and a running case carries them (the follow-up's
"reminded li.wei" named the assignee to the portal).
"""

from __future__ import annotations

from support.case.view import CaseView, TimelineEntry
from support.wording.names import Names, Reader, shown_name

# Timeline kinds for staff only, whatever their `internal` flag says (grep `record(` in support/).
STAFF_ONLY_KINDS = frozenset({"assigned", "note", "follow_up", "notification_failed"})


def staff_only(entry: TimelineEntry) -> bool:
    return entry.internal or entry.kind in STAFF_ONLY_KINDS


def customer_view(view: CaseView, names: Names | None = None, language: str | None = None) -> CaseView:
    """A copy of `view` without what is for staff only (`view` itself is not changed); staff are
    shown as `names` says, in `language` (by default the case's)."""
    known, tongue = names or Names(), language or view.language

    def shown_actor(actor: str) -> str:
        return shown_name(actor, Reader.CUSTOMER, known, tongue)

    def _shown_or_none(actor: str | None) -> str | None:
        return None if actor is None else shown_actor(actor)

    clocks = {
        name: clock.model_copy(update={"answered_by": _shown_or_none(clock.answered_by)})
        for name, clock in (
            ("first_response", view.first_response),
            ("customer_update", view.customer_update),
        )
        if clock is not None
    }
    return view.model_copy(
        update={
            "timeline": [
                entry.model_copy(update={"actor": shown_actor(entry.actor)})
                for entry in view.timeline
                if not staff_only(entry)
            ],
            "notes": [],
            "notes_omitted": 0,
            "assigned_engineer": None,
            "holders": [],
            "holders_omitted": 0,
            "failed_notifications": [],
            "failed_notifications_omitted": 0,
            "follow_ups_sent": 0,
            "assignments": 0,
            "customer_requests": [
                request.model_copy(
                    update={
                        "requested_by": shown_actor(request.requested_by),
                        "accepted_by": _shown_or_none(request.accepted_by),
                    }
                )
                for request in view.customer_requests
            ],
            "pauses": [
                pause.model_copy(
                    update={
                        "paused_by": shown_actor(pause.paused_by),
                        "resumed_by": _shown_or_none(pause.resumed_by),
                    }
                )
                for pause in view.pauses
            ],
            "severity_history": [
                change.model_copy(update={"actor": shown_actor(change.actor)})
                for change in view.severity_history
            ],
            "resolved_by": _shown_or_none(view.resolved_by),
            **clocks,
        }
    )

"""The case's status moves, as data: which status may follow which (issue 27).

Every step that changes the status goes through `move_to`, so a move the table does not list is
a bug found where it happens (the machine raises; the workflow task fails and is retried with the
fix), not a case that quietly reaches a status nothing expects. The table is also what a reader
checks the lifecycle against: docs/ and the property test in tests/unit/test_case_machine.py use it.
"""

from __future__ import annotations

from collections.abc import Mapping

from support.case.view import CaseView
from support.policies.vocabulary import CaseStatus

S = CaseStatus
TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.AWAITING_VERIFICATION, S.AWAITING_FIRST_RESPONSE, S.REFUSED}),
    S.AWAITING_VERIFICATION: frozenset({S.AWAITING_FIRST_RESPONSE, S.REFUSED}),
    # resolving an unanswered case answers it first (in progress, then resolved)
    S.AWAITING_FIRST_RESPONSE: frozenset({S.IN_PROGRESS, S.WITHDRAWN, S.CLOSED_UNRESPONSIVE}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.WITHDRAWN, S.CLOSED_UNRESPONSIVE}),
    S.RESOLVED: frozenset({S.IN_PROGRESS, S.CLOSED}),  # reopened, or the window ended
    S.CLOSED: frozenset(),
    S.CLOSED_UNRESPONSIVE: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.REFUSED: frozenset(),
}


class IllegalMove(AssertionError):
    """A step tried a status move the table does not list: a bug in the machine, never input."""


def move_to(view: CaseView, status: CaseStatus) -> None:
    """Set the case's status to `status`, which must be a legal next status of the current one."""
    if status not in TRANSITIONS[view.status]:
        raise IllegalMove(f"the case cannot move from {view.status.value} to {status.value}")
    view.status = status

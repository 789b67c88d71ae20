"""The customer withdraws an open case (it solved itself, or was raised by mistake).

The case ends as `withdrawn`, a status of its own rather than `closed`: a closed case has had its
survey sent and its first response counted, a withdrawn one neither. Its clocks stop where they
were (a first response not given is neither met nor breached unless it was already late), every
request is waived, the assignee (or the support queue) is told, the customer gets a short
confirmation, and no survey is sent: the run ends and the case is archived.
"""

from __future__ import annotations

from datetime import datetime

from support.case.actions import Withdrawal
from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.case.status import move_to
from support.case.view import WithdrawalRecord
from support.messaging.routing import recipients
from support.policies.vocabulary import CaseStatus
from support.rules.cooperation import waive_all
from support.rules.resolution import stop_clocks
from support.wording.excerpt import excerpt


def withdrawal_refusal(case: CaseRecord, action: Withdrawal, now: datetime) -> str | None:
    status = case.view.status
    if status in (CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION):
        return "cannot withdraw: the case is still being opened; try again in a moment"
    if not status.is_open:
        return f"cannot withdraw: the case is {status.value}"
    return None


def withdraw(case: CaseRecord, action: Withdrawal, now: datetime, decision: Decision) -> None:
    view = case.view
    move_to(view, CaseStatus.WITHDRAWN)
    view.closed_at = now
    view.withdrawal = WithdrawalRecord(at=now, reason=excerpt(action.reason))
    view.customer_requests = waive_all(view.customer_requests)
    stop_clocks(case, now)
    view.record(now, "withdrawn", f"withdrawn by the customer: {excerpt(action.reason)}", actor="customer")
    decision.set((CaseAttribute.STATUS, CaseStatus.WITHDRAWN.value))
    decision.tell(recipients(case, "withdrawn", {"reason": action.reason}))
    decision.count("casework_cases_withdrawn", "cases the customer withdrew", severity=str(view.severity))
    decision.wake = True

"""Phone intake from a number the tenant has not registered: a one-time code goes to one of the
tenant's registered contacts, and the case opens only when the caller gives it back in time.

The case never sees the code: the intake seals the caller's code (its MAC under the server-side
key) and the case compares MACs (`support.identity.verification`)."""

from __future__ import annotations

from datetime import datetime

from support.case.effects import CaseAttribute, Decision
from support.case.events import CodeNotSent, CodeSent
from support.case.record import CaseRecord
from support.case.status import move_to
from support.case.view import Refusal, VerificationView
from support.identity.verification import SealedAttempt, VerificationResult, attempt_matches, can_check
from support.policies.vocabulary import CaseStatus
from support.rules.opening import open_case, refuse

ELSEWHERE = "Please call from a number registered for your organisation, or try again later."


def needs_code(case: CaseRecord) -> bool:
    return case.context is not None and case.view.status is CaseStatus.NEW


def code_not_sent(case: CaseRecord, event: CodeNotSent, now: datetime, decision: Decision) -> None:
    if event.locked:
        message = (
            f"Too many wrong codes from this number; the case was not opened ({event.reason}). {ELSEWHERE}"
        )
        refuse(case, Refusal(code="verification_locked", message=message), now, decision)
    else:
        message = f"We could not send a verification code ({event.reason}). {ELSEWHERE}"
        refuse(case, Refusal(code="verification_unavailable", message=message), now, decision)


def code_sent(case: CaseRecord, event: CodeSent, now: datetime, decision: Decision) -> None:
    rule, view = case.rules.verification, case.view
    case.issued = event.issued
    view.verification = VerificationView(
        sent_to=event.issued.sent_to,
        issued_at=now,
        expires_at=now + rule.expires_after,
        max_attempts=rule.max_attempts,
    )
    move_to(view, CaseStatus.AWAITING_VERIFICATION)
    view.record(
        now,
        "verification_sent",
        f"caller's number is not registered; one-time code sent to {event.issued.sent_to}",
    )
    decision.set((CaseAttribute.STATUS, view.status.value))


def attempt_refusal(case: CaseRecord, attempt: SealedAttempt) -> str | None:
    status = case.view.status
    if status is not CaseStatus.AWAITING_VERIFICATION:
        return f"no verification is pending for this case (it is {status.value})"
    if case.issued is not None and not can_check(attempt, case.issued):
        if case.issued.sealed:
            return "the code must be sealed by the intake (code_mac), never sent in clear"
        return "this code was issued before an upgrade and cannot be checked; please call again"
    return None


def attempted(case: CaseRecord, attempt: SealedAttempt, now: datetime, decision: Decision) -> None:
    view = case.view
    verification = view.verification
    assert verification is not None and case.issued is not None
    if now >= verification.expires_at:
        decision.reply = VerificationResult(
            verified=False, status="expired", remaining_attempts=0, message="the code has expired"
        )
        return
    verification.attempts_used += 1
    remaining = verification.max_attempts - verification.attempts_used
    if attempt_matches(attempt, case.issued):
        verification.outcome = "verified"
        view.record(now, "caller_verified", "one-time code confirmed")
        decision.reply = VerificationResult(
            verified=True, status="verified", remaining_attempts=remaining, message="verified"
        )
    elif remaining <= 0:
        verification.outcome = "locked"
        view.record(now, "verification_locked", "too many wrong codes")
        decision.reply = VerificationResult(
            verified=False, status="locked", remaining_attempts=0, message="too many wrong codes; locked"
        )
    else:
        view.record(now, "verification_failed", f"wrong code; {remaining} attempts left")
        decision.reply = VerificationResult(
            verified=False,
            status="pending",
            remaining_attempts=remaining,
            message=f"wrong code; {remaining} attempts left",
        )


def wait_over(case: CaseRecord, now: datetime, decision: Decision) -> None:
    verification, context = case.view.verification, case.context
    assert verification is not None and context is not None
    if verification.outcome == "verified":
        case.context = None
        open_case(case, context, now, decision)
    elif verification.outcome == "pending":
        verification.outcome = "expired"
        message = "The one-time code was not confirmed in time; the case was not opened. Please call again."
        refuse(case, Refusal(code="verification_expired", message=message), now, decision)
    else:
        message = (
            "Too many wrong codes; the case was not opened. Please call again from a registered number "
            "or try again in an hour."
        )
        refuse(case, Refusal(code="verification_locked", message=message), now, decision)

"""How a case ends: resolved by an engineer (the customer may reopen it within the window), then
closed with a satisfaction survey (one reminder, then no more waiting); or closed unresponsive
when a C case's customer did not cooperate in time."""

from __future__ import annotations

from datetime import datetime

from support.case.actions import ReopenRequest, Resolution, SurveyAnswer
from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.case.status import move_to
from support.case.view import Survey, SurveyOutcome
from support.messaging.routing import recipients
from support.policies.vocabulary import CaseStatus
from support.rules.cooperation import waive_all
from support.rules.responses import first_response, touch
from support.sla_clocks.clocks import next_cycle, stop_clock
from support.wording.excerpt import excerpt
from support.wording.reasons import Reason

# A customer's reply to a resolved case within the reopen window reopens it (issue 23): new
# commands (the "reopened" notifications) where older cases only listed the reply.
REOPEN_BY_REPLY_PATCH = "reopen-by-reply"


def reopen_refusal(case: CaseRecord, now: datetime) -> str | None:
    view = case.view
    if view.status is not CaseStatus.RESOLVED or view.reopen_until is None:
        return f"only a resolved case can be reopened; this case is {view.status.value}"
    if now >= view.reopen_until:
        return f"the reopen window ended at {view.reopen_until.isoformat()}"
    return None


def reopen_request_refusal(case: CaseRecord, action: ReopenRequest, now: datetime) -> str | None:
    """A customer's reopen request: the same rule as a reply that reopens (`reopens_by_reply`)."""
    return reopen_refusal(case, now)


def survey_refusal(case: CaseRecord, answer: SurveyAnswer, now: datetime) -> str | None:
    """A survey answer counts only while the survey waits for it."""
    survey = case.view.survey
    if survey is None:
        return "the satisfaction survey has not been sent: it is sent when the case closes"
    if survey.outcome is SurveyOutcome.ANSWERED:
        return f"the satisfaction survey was already answered at {survey.answered_at}"
    if survey.outcome is SurveyOutcome.NO_ANSWER:
        return f"the satisfaction survey expired at {survey.expires_at.isoformat()}"
    return None


def stop_clocks(case: CaseRecord, now: datetime) -> None:
    view = case.view
    if view.first_response is not None and view.first_response.answered_at is None:
        view.first_response = stop_clock(view.first_response, now)
    if view.customer_update is not None:
        view.customer_update = stop_clock(view.customer_update, now)
    if view.pauses and view.pauses[-1].resumed_at is None:
        view.pauses[-1].resumed_at = now
        view.pauses[-1].resumed_by = "system"


def resolve(case: CaseRecord, action: Resolution, now: datetime, decision: Decision) -> None:
    """Resolving an unanswered case is its first response too; every request is waived."""
    view = case.view
    assert view.first_response is not None
    if view.first_response.answered_at is None:
        first_response(case, action.engineer, action.summary, now, decision)
    move_to(view, CaseStatus.RESOLVED)
    view.resolved_at = now
    view.resolved_by = action.engineer
    view.resolution_summary = excerpt(action.summary)
    view.reopen_until = now + case.rules.resolution.reopen_window
    view.customer_requests = waive_all(view.customer_requests)
    stop_clocks(case, now)
    view.record(now, "resolved", f"resolved: {view.resolution_summary}", actor=action.engineer)
    decision.count(
        "casework_cases_resolved", "cases resolved", severity=str(view.severity), category=view.category.value
    )
    decision.set((CaseAttribute.STATUS, CaseStatus.RESOLVED.value))
    decision.tell(
        recipients(
            case,
            "resolved",
            {
                "summary": action.summary,
                "reopen_by_reply": "yes" if case.rules.resolution.reopen_on_reply else "no",
            },
            {"reopen_until": view.reopen_until},
            sequence=view.reopened_count,
        )
    )
    decision.wake = True


def reopen(case: CaseRecord, action: ReopenRequest, now: datetime, decision: Decision) -> None:
    """Back to in progress, with a fresh customer-update cycle."""
    reopened(case, action.reason, now, decision)


def reopens_by_reply(case: CaseRecord, now: datetime) -> bool:
    """A customer's reply now reopens the case: it is resolved, the window is open, the policy
    says so (`[resolution] reopen_on_reply`), and the case runs code that knows the rule."""
    return (
        reopen_refusal(case, now) is None
        and case.rules.resolution.reopen_on_reply
        and case.patched(REOPEN_BY_REPLY_PATCH)
    )


def reopened(case: CaseRecord, reason: str, now: datetime, decision: Decision) -> None:
    """Reopened by the customer: by the reopen action, or by a reply within the window."""
    view = case.view
    move_to(view, CaseStatus.IN_PROGRESS)
    view.reopened_count += 1
    view.reopen_until = None
    if view.customer_update is not None:
        view.customer_update = next_cycle(view.customer_update, case.clock_terms, now, paused=False)
    view.record(now, "reopened", f"reopened: {excerpt(reason)}", actor="customer")
    touch(case, now, None, decision)
    decision.set((CaseAttribute.STATUS, CaseStatus.IN_PROGRESS.value))
    decision.tell(recipients(case, "reopened", {"reason": reason}, sequence=view.reopened_count))


def close(case: CaseRecord, now: datetime, decision: Decision) -> None:
    """The reopen window ended: closed, and the satisfaction survey sent."""
    view, survey = case.view, case.rules.survey
    move_to(view, CaseStatus.CLOSED)
    view.closed_at = now
    view.reopen_until = None
    view.survey = Survey(
        sent_at=now,
        reminder_at=now + survey.reminder_after if survey.reminder_after is not None else None,
        expires_at=now + survey.wait,
    )
    view.record(now, "closed", "closed after the reopen window; satisfaction survey sent")
    decision.count("casework_surveys_sent", "satisfaction surveys sent", severity=str(view.severity))
    decision.set((CaseAttribute.STATUS, CaseStatus.CLOSED.value))
    decision.tell(recipients(case, "survey", times=survey_times(view.survey)))


def close_unresponsive(case: CaseRecord, why: str, said: Reason, now: datetime, decision: Decision) -> None:
    """`why` in English for the timeline; `said` for the people told."""
    view = case.view
    move_to(view, CaseStatus.CLOSED_UNRESPONSIVE)
    view.closed_at = now
    view.customer_requests = waive_all(view.customer_requests)
    stop_clocks(case, now)
    view.record(now, "closed_unresponsive", f"closed: {excerpt(why)}")
    decision.set((CaseAttribute.STATUS, view.status.value))
    decision.tell(recipients(case, "closed_unresponsive", reasons={"reason": [said]}))


def survey_times(survey: Survey) -> dict[str, datetime]:
    """The survey's round and end, for the mail's signed answer link (support.messaging.survey_links)."""
    return {"survey_sent": survey.sent_at, "survey_expires": survey.expires_at}


def survey_answered(case: CaseRecord, answer: SurveyAnswer, now: datetime, decision: Decision) -> None:
    view = case.view
    if view.survey is None or view.survey.outcome is not SurveyOutcome.PENDING:
        view.record(now, "survey_ignored", "a survey answer arrived when no survey was open")
        return
    view.survey.outcome = SurveyOutcome.ANSWERED
    view.survey.answered_at = now
    view.survey.score = answer.score
    view.survey.comment = excerpt(answer.comment)
    view.record(now, "survey_answered", f"satisfaction {answer.score}/5", actor="customer")
    decision.count("casework_surveys_answered", "surveys answered, by score", score=str(answer.score))
    decision.wake = True


def remind_survey(case: CaseRecord, now: datetime, decision: Decision) -> None:
    assert case.view.survey is not None
    case.view.survey.reminded_at = now
    case.view.record(now, "survey_reminder", "reminded the customer of the satisfaction survey")
    decision.tell(recipients(case, "survey_reminder", times=survey_times(case.view.survey)))


def survey_expired(case: CaseRecord, now: datetime) -> None:
    assert case.view.survey is not None
    case.view.survey.outcome = SurveyOutcome.NO_ANSWER
    case.view.record(now, "survey_expired", "no survey answer; stopped waiting")

"""Everything a case is waiting for in time, as a sorted list of wake-ups (pure).

The workflow sleeps until the first wake-up or until a handler changes the case, then handles
every wake-up that is due. Anything that changes the case (pause, severity change, reopen)
changes the agenda by itself, because the agenda is derived from the case, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from support.case.view import CaseView, SurveyOutcome
from support.policies.policy import Policy
from support.policies.vocabulary import CaseStatus
from support.sla_clocks.calendar import Calendar


class Wake(StrEnum):
    CLOCK_CHECKPOINT = "clock_checkpoint"
    COOPERATION_REMINDER = "cooperation_reminder"
    COOPERATION_DUE = "cooperation_due"
    IDLE_FOLLOW_UP = "idle_follow_up"
    REOPEN_WINDOW_END = "reopen_window_end"
    SURVEY_REMINDER = "survey_reminder"
    SURVEY_TIMEOUT = "survey_timeout"


@dataclass(frozen=True, slots=True)
class WakeUp:
    """An instant the case wakes at (a plain record: the agenda is rebuilt at every step, and the
    what-if rebuilds it thousands of times a second)."""

    at: datetime
    kind: Wake
    ref: str = ""


def agenda(case: CaseView, calendar: Calendar, policy: Policy) -> list[WakeUp]:
    items: list[WakeUp] = []
    if case.status.is_open:
        for clock in (case.first_response, case.customer_update):
            if clock is not None and clock.running and clock.checkpoints:
                items.append(
                    WakeUp(at=clock.checkpoints[0].at, kind=Wake.CLOCK_CHECKPOINT, ref=str(clock.name))
                )
        for request in case.customer_requests:
            if not request.outstanding:
                continue
            if request.reminders_sent < len(request.reminders):
                at = request.reminders[request.reminders_sent]
                items.append(WakeUp(at=at, kind=Wake.COOPERATION_REMINDER, ref=request.request_id))
            items.append(WakeUp(at=request.due, kind=Wake.COOPERATION_DUE, ref=request.request_id))
    if (
        case.status is CaseStatus.IN_PROGRESS
        and case.last_activity_at is not None
        and case.severity is not None
    ):
        idle = policy.severities[case.severity].idle_follow_up.on(calendar)
        items.append(WakeUp(at=calendar.add(case.last_activity_at, idle), kind=Wake.IDLE_FOLLOW_UP))
    if case.status is CaseStatus.RESOLVED and case.reopen_until is not None:
        items.append(WakeUp(at=case.reopen_until, kind=Wake.REOPEN_WINDOW_END))
    survey = case.survey
    if survey is not None and survey.outcome is SurveyOutcome.PENDING:
        if survey.reminder_at is not None and survey.reminded_at is None:
            items.append(WakeUp(at=survey.reminder_at, kind=Wake.SURVEY_REMINDER))
        items.append(WakeUp(at=survey.expires_at, kind=Wake.SURVEY_TIMEOUT))
    return sorted(items, key=lambda w: w.at)


def case_done(case: CaseView) -> bool:
    """Nothing left to wait for: closed (and the survey answered or expired), or refused."""
    if not case.status.is_final:
        return False
    return case.survey is None or case.survey.outcome is not SurveyOutcome.PENDING

"""What a case waits for in time (`support.case.agenda`), straight from the case: no workflow, no server."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.case.agenda import Wake, WakeUp, agenda, case_done
from support.case.view import CaseView, Survey, SurveyOutcome
from support.policies.vocabulary import CaseStatus, Category, Severity
from support.rules.cooperation import RequestKind, RequestState, new_request, obligations_at, waive_all
from support.rules.entitlement import case_calendar
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clocks import (
    ClockName,
    ClockTerms,
    pause_clock,
    resume_clock,
    start_clock,
    stop_clock,
)
from tests.requests import case_request

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday
POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
WARN_AT = POLICY.sla.warn_at
MINUTE = timedelta(minutes=1)


def calendar_of(severity: Severity) -> Calendar:
    return case_calendar(POLICY, Category.TECHNICAL, severity, "Asia/Shanghai")


def opened(severity: Severity = Severity.A, at: datetime = T0) -> CaseView:
    """A technical case just opened at `severity`: its first-response clock and its obligations."""
    case = CaseView.for_request(case_request(f"agenda-{severity.value}"), at)
    calendar = calendar_of(severity)
    case.status, case.severity, case.opened_at = CaseStatus.AWAITING_FIRST_RESPONSE, severity, at
    case.first_response = start_clock(
        ClockName.FIRST_RESPONSE,
        ClockTerms(calendar, tuple(WARN_AT)),
        POLICY.severities[severity].first_response,
        at,
    )
    case.customer_requests = obligations_at(POLICY, severity, calendar, at)
    return case


def answered(case: CaseView, at: datetime) -> CaseView:
    """The first response went out: the case is in progress and the update clock runs."""
    assert case.severity is not None
    calendar = calendar_of(case.severity)
    case.status, case.last_activity_at = CaseStatus.IN_PROGRESS, at
    case.first_response = None
    case.customer_update = start_clock(
        ClockName.CUSTOMER_UPDATE,
        ClockTerms(calendar, tuple(WARN_AT)),
        POLICY.severities[case.severity].customer_update,
        at,
    )
    return case


def wake_ups(case: CaseView, severity: Severity = Severity.A) -> list[tuple[datetime, Wake, str]]:
    return [(w.at, w.kind, w.ref) for w in agenda(case, calendar_of(severity), POLICY)]


# -- an open case -------------------------------------------------------------------------------------


def test_a_new_a_case_waits_for_its_first_warning_and_for_the_customers_obligations() -> None:
    case = opened()
    obligations = ["impact_analysis", "reachable_contacts", "contact_data"]
    assert wake_ups(case) == [
        (T0 + 30 * MINUTE, Wake.CLOCK_CHECKPOINT, "first_response"),  # 50% of 1h
        *((T0 + timedelta(hours=1), Wake.COOPERATION_REMINDER, o) for o in obligations),  # 50% of 2h
        *((T0 + timedelta(hours=2), Wake.COOPERATION_DUE, o) for o in obligations),
    ]


def test_the_agenda_is_sorted_by_time_whatever_the_order_of_its_sources() -> None:
    case = opened()
    times = [w.at for w in agenda(case, calendar_of(Severity.A), POLICY)]
    assert times == sorted(times)


def test_a_clock_waits_for_its_next_checkpoint_only() -> None:
    case = opened()
    clock = case.first_response
    assert clock is not None
    case.first_response = clock.model_copy(update={"checkpoints": clock.checkpoints[1:]})  # 50% reached
    (checkpoint,) = [
        w for w in agenda(case, calendar_of(Severity.A), POLICY) if w.kind is Wake.CLOCK_CHECKPOINT
    ]
    assert checkpoint.at == T0 + 48 * MINUTE  # 80% of 1h


def test_a_paused_clock_has_no_checkpoint_wake_up_and_gets_it_back_when_resumed() -> None:
    case = answered(opened(), T0 + 20 * MINUTE)
    assert case.customer_update is not None
    assert (T0 + timedelta(hours=2, minutes=20), Wake.CLOCK_CHECKPOINT, "customer_update") in wake_ups(case)

    case.customer_update = pause_clock(case.customer_update, T0 + timedelta(hours=1))
    assert not [w for w in wake_ups(case) if w[1] is Wake.CLOCK_CHECKPOINT]

    # resumed an hour later: 40 minutes of the 4 hours were used, so 50% is 1h20m after resuming
    resumed_at = T0 + timedelta(hours=2)
    case.customer_update = resume_clock(
        case.customer_update, ClockTerms(calendar_of(Severity.A), tuple(WARN_AT)), resumed_at
    )
    checkpoints = [w for w in wake_ups(case) if w[1] is Wake.CLOCK_CHECKPOINT]
    assert checkpoints == [(resumed_at + 80 * MINUTE, Wake.CLOCK_CHECKPOINT, "customer_update")]


def test_reminders_come_in_order_then_the_due() -> None:
    case = opened(Severity.B)
    (request,) = case.customer_requests
    first, second = request.reminders
    assert first < second < request.due

    def cooperation() -> list[tuple[datetime, Wake]]:
        return [(at, kind) for at, kind, ref in wake_ups(case, Severity.B) if ref == "contact_data"]

    assert cooperation() == [(first, Wake.COOPERATION_REMINDER), (request.due, Wake.COOPERATION_DUE)]
    request.reminders_sent = 1
    assert cooperation() == [(second, Wake.COOPERATION_REMINDER), (request.due, Wake.COOPERATION_DUE)]
    request.reminders_sent = 2
    assert cooperation() == [(request.due, Wake.COOPERATION_DUE)]


def test_an_answered_or_waived_request_leaves_the_agenda() -> None:
    case = opened()
    case.customer_requests[0].state = RequestState.ANSWERED
    case.customer_requests[1].state = RequestState.WAIVED
    refs = {
        ref for _, kind, ref in wake_ups(case) if kind in (Wake.COOPERATION_REMINDER, Wake.COOPERATION_DUE)
    }
    assert refs == {"contact_data"}


def test_an_engineers_request_is_on_the_agenda_like_an_obligation() -> None:
    case = answered(opened(), T0)
    asked = T0 + timedelta(hours=1)
    request = new_request(
        POLICY,
        Severity.A,
        calendar_of(Severity.A),
        asked,
        request_id="request-1",
        kind=RequestKind.ENGINEER,
        what="a network trace",
        requested_by="li.wei",
        pauses_clock=True,
    )
    case.customer_requests = [request]
    assert [(at, kind) for at, kind, ref in wake_ups(case) if ref == "request-1"] == [
        (asked + timedelta(hours=1), Wake.COOPERATION_REMINDER),
        (asked + timedelta(hours=2), Wake.COOPERATION_DUE),
    ]


def test_an_idle_case_in_progress_is_followed_up_in_business_time() -> None:
    monday_23_30 = datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI)
    case = opened(Severity.B, monday_23_30)
    case.status, case.last_activity_at, case.customer_requests = CaseStatus.IN_PROGRESS, monday_23_30, []
    case.first_response = None
    # 1 business day = 15h on the product calendar (09:00-24:00): 30 minutes on Monday, 14h30 on Tuesday
    assert wake_ups(case, Severity.B) == [
        (datetime(2026, 11, 24, 23, 30, tzinfo=SHANGHAI), Wake.IDLE_FOLLOW_UP, "")
    ]


def test_a_case_awaiting_its_first_response_is_not_followed_up_for_idleness() -> None:
    case = opened()
    case.last_activity_at = T0
    assert Wake.IDLE_FOLLOW_UP not in {kind for _, kind, _ in wake_ups(case)}


# -- a resolved or closed case ------------------------------------------------------------------------


def test_a_resolved_case_waits_only_for_the_reopen_window() -> None:
    case = answered(opened(), T0)
    resolved_at = T0 + timedelta(hours=3)
    reopen_until = resolved_at + timedelta(days=7)
    assert case.customer_update is not None
    case.status, case.resolved_at, case.reopen_until = CaseStatus.RESOLVED, resolved_at, reopen_until
    case.customer_update = stop_clock(case.customer_update, resolved_at)
    case.customer_requests = waive_all(case.customer_requests)
    assert agenda(case, calendar_of(Severity.A), POLICY) == [
        WakeUp(at=reopen_until, kind=Wake.REOPEN_WINDOW_END)
    ]
    assert not case_done(case)


def test_a_resolved_case_ignores_whatever_clock_or_request_was_left_running() -> None:
    case = answered(opened(), T0)  # update clock running, obligations outstanding
    case.status, case.reopen_until = CaseStatus.RESOLVED, T0 + timedelta(days=7)
    assert [kind for _, kind, _ in wake_ups(case)] == [Wake.REOPEN_WINDOW_END]


def test_a_closed_case_waits_for_its_survey_reminder_then_its_timeout() -> None:
    case = opened()
    sent = T0 + timedelta(days=8)
    case.status, case.closed_at = CaseStatus.CLOSED, sent
    case.customer_requests = waive_all(case.customer_requests)
    case.first_response = None
    case.survey = Survey(
        sent_at=sent, reminder_at=sent + timedelta(days=3), expires_at=sent + timedelta(days=7)
    )
    assert [(at, kind) for at, kind, _ in wake_ups(case)] == [
        (sent + timedelta(days=3), Wake.SURVEY_REMINDER),
        (sent + timedelta(days=7), Wake.SURVEY_TIMEOUT),
    ]
    assert not case_done(case), "the survey is still open"

    case.survey.reminded_at = sent + timedelta(days=3)
    assert [kind for _, kind, _ in wake_ups(case)] == [Wake.SURVEY_TIMEOUT]

    case.survey.outcome = SurveyOutcome.ANSWERED
    assert wake_ups(case) == [] and case_done(case)


def test_a_case_is_done_when_final_and_no_survey_is_pending() -> None:
    case = opened()
    assert not case_done(case)
    for status in (CaseStatus.CLOSED, CaseStatus.CLOSED_UNRESPONSIVE, CaseStatus.REFUSED):
        case.status = status
        assert case_done(case)
    case.status = CaseStatus.RESOLVED
    assert not case_done(case), "a resolved case can still be reopened"
    case.status = CaseStatus.CLOSED
    case.survey = Survey(sent_at=T0, reminder_at=None, expires_at=T0 + timedelta(days=7))
    assert not case_done(case)
    case.survey.outcome = SurveyOutcome.NO_ANSWER
    assert case_done(case)

"""Every story of test_case_lifecycle.py and test_case_workflow.py as a pure test of the case's
machine (`support.case.machine`): events in, effects and state out, no server, in milliseconds.

Each test is named as the server test it retells, and asserts the same things people see: the
status, severity and clocks, the timeline, who is told what, the validators' reasons and the
search attributes. The cases open on policy.toml and directory.toml, as the server tests' cases
do; where a server test starts at the real clock, the story opens at a fixed instant (the
calendars make some stories depend on the hour: see each one). A property test drives a case with
any sequence of allowed actions and time steps and checks what must always hold.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.case.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    CustomerReply,
    CustomerUpdate,
    FirstResponse,
    InternalNote,
    ObligationAcceptance,
    ObligationAskedAgain,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
    Withdrawal,
)
from support.case.attributes import published
from support.case.effects import CaseAttribute
from support.case.events import DeliveryFailed, Event
from support.case.view import TIMELINE_FIRST, TIMELINE_RECENT, CaseView, SurveyOutcome
from support.policies.vocabulary import CaseStatus, Severity
from support.rules.cooperation import RequestState
from support.rules.entitlement import case_calendar
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clock_state import ClockState
from tests.case_driver import VALIDATED, Driver, Refused, policy_for
from tests.requests import case_request

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday, mid-morning in Shanghai
POLICY = policy_for(T0)
PRODUCT: Calendar = POLICY.calendars["product"]
ENGINEER = "li.wei"
SETTLE = timedelta(seconds=1)  # as the server tests' `settle`: let the case act on a change


def kinds(view: CaseView) -> list[str]:
    return [e.kind for e in view.timeline]


def sent(driver: Driver) -> list[str]:
    """Notification ids told, without the case and the audience: 'downgraded/1' once per audience."""
    return [i.rsplit("/", 1)[0] for i in driver.told_ids()]


def at_local(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.astimezone(SHANGHAI).replace(hour=hour, minute=minute, second=0, microsecond=0)


def open_case(request_id: str, tenant: str = "contoso", at: datetime = T0, **fields: str) -> Driver:
    return Driver(case_request(request_id, tenant, **fields), at)


# == test_case_workflow.py ===========================================================================

OPENINGS = [
    T0,
    datetime(2026, 11, 28, 23, 30, tzinfo=SHANGHAI),  # a Saturday night: billing and presales closed
    datetime(2026, 10, 1, 8, 0, tzinfo=SHANGHAI),  # National Day: a PRC public holiday (billing)
]


@pytest.mark.parametrize("opened_at", OPENINGS, ids=["monday", "saturday-night", "national-day"])
@pytest.mark.parametrize(
    ("tenant", "category", "requested", "severity", "calendar", "zone"),
    [
        ("contoso", "technical", "A", Severity.A, "always", "Asia/Shanghai"),
        ("contoso", "technical", "B", Severity.B, "product", "Asia/Shanghai"),
        ("contoso", "technical", "C", Severity.C, "product", "Asia/Shanghai"),
        ("contoso", "billing", "A", Severity.B, "billing", "Asia/Shanghai"),
        ("fabrikam", "presales", "B", Severity.B, "presales", "Europe/Budapest"),
        ("fabrikam", "technical", "A", Severity.B, "product", "Asia/Shanghai"),
    ],
)
def test_deadline_follows_severity_and_calendar(
    opened_at: datetime,
    tenant: str,
    category: str,
    requested: str,
    severity: Severity,
    calendar: str,
    zone: str,
) -> None:
    driver = open_case("deadline", tenant, opened_at, category=category, severity=requested)
    view = driver.view
    assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE
    assert (view.severity, view.calendar, view.time_zone) == (severity, calendar, zone)
    assert view.first_response is not None and view.opened_at == opened_at
    tenant_zone = "Europe/Budapest" if tenant == "fabrikam" else "Asia/Shanghai"
    policy = policy_for(opened_at)
    business = case_calendar(policy, view.category, severity, tenant_zone)
    due = business.add(opened_at, policy.severities[severity].first_response.on(business))
    assert view.first_response.due == due
    if severity is Severity.A:
        assert due - opened_at == timedelta(hours=1)
    else:  # business days are never shorter in wall-clock time than their business hours
        assert due - opened_at >= view.first_response.business_time
    if requested != severity.value:
        capped = [e for e in view.timeline if e.kind == "severity_capped"]
        assert capped, "a capped severity must say why in the timeline"
        assert view.severity_history[0].reason == capped[0].message.split(": ", 1)[1]
    told = driver.told_events()
    assert ("acknowledged", "customer") in told and ("new_case", "support_queue") in told
    assert driver.attributes == {
        CaseAttribute.STATUS: "awaiting_first_response",
        CaseAttribute.SEVERITY: severity.value,
        CaseAttribute.FIRST_RESPONSE_DUE: due,
        CaseAttribute.NEXT_DEADLINE: due,  # the queue's order: the first response comes first
        CaseAttribute.CLOCK_PAUSED: False,
    }


def test_warnings_then_breach_then_late_response() -> None:
    driver = open_case("warnings")
    view = driver.view
    assert view.first_response is not None
    assert [c.event for c in view.first_response.checkpoints] == [
        "sla_warning_50",
        "sla_warning_80",
        "sla_breached",
    ]

    view = driver.advance(timedelta(minutes=31))
    assert view.first_response is not None
    assert view.first_response.warnings_sent == ["sla_warning_50"]
    assert view.first_response.state is ClockState.RUNNING

    view = driver.advance(timedelta(minutes=18))
    assert view.first_response is not None
    assert view.first_response.warnings_sent == ["sla_warning_50", "sla_warning_80"]
    assert not view.sla_breached

    view = driver.advance(timedelta(minutes=12))
    assert view.first_response is not None
    assert view.sla_breached and view.first_response.state is ClockState.BREACHED
    assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE, "a breached case keeps waiting"
    assert driver.attributes[CaseAttribute.SLA_BREACHED] is True

    view = driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it now"))
    assert view.status is CaseStatus.IN_PROGRESS
    assert view.first_response is not None
    assert view.first_response.state is ClockState.BREACHED
    assert view.first_response.answered_by == ENGINEER
    assert view.first_response.business_time_to_answer is not None
    assert view.first_response.business_time_to_answer > timedelta(hours=1)

    told = driver.told_events()
    assert ("sla_warning_50", "support_queue") in told
    assert ("sla_warning_80", "support_queue") in told
    assert ("sla_breached", "duty_manager") in told
    assert len(driver.told_ids()) == len(set(driver.told_ids())), "each notification is told once"


def test_response_before_first_warning_stops_the_clock() -> None:
    driver = open_case("early")
    driver.advance(timedelta(minutes=10))
    driver.act(FirstResponse(engineer=ENGINEER, message="On it"))
    view = driver.advance(timedelta(hours=3))
    assert view.first_response is not None
    assert view.first_response.state is ClockState.MET
    assert view.first_response.warnings_sent == []
    assert not view.sla_breached
    assert not [e for e in view.timeline if e.kind.startswith("sla_")]
    assert not [e for e, _ in driver.told_events() if e.startswith("sla_")]
    assert CaseAttribute.SLA_BREACHED not in driver.attributes


def test_resolve_then_close_after_reopen_window_and_survey() -> None:
    driver = open_case("close", severity="C")
    driver.act(FirstResponse(engineer=ENGINEER, message="Please try a new profile"))
    resolved = driver.act(Resolution(engineer=ENGINEER, summary="Profile rebuilt")).model_copy(deep=True)
    assert resolved.status is CaseStatus.RESOLVED
    assert resolved.reopen_until is not None and resolved.resolved_at is not None
    assert resolved.reopen_until - resolved.resolved_at == timedelta(days=7)
    assert driver.advance(timedelta(days=6, hours=23)).status is CaseStatus.RESOLVED
    closed = driver.advance(timedelta(hours=1, seconds=1))
    assert closed.status is CaseStatus.CLOSED and closed.survey is not None
    assert driver.attributes[CaseAttribute.STATUS] == "closed"
    final = driver.advance(timedelta(days=8))
    assert driver.done, "the workflow returns: the survey expired"
    assert final.status is CaseStatus.CLOSED and final.closed_at is not None
    assert timedelta(0) <= final.closed_at - resolved.reopen_until < timedelta(seconds=1)
    assert kinds(final)[:3] == ["opened", "obligations_requested", "first_response"]
    assert kinds(final)[-4:] == ["resolved", "closed", "survey_reminder", "survey_expired"]
    told = driver.told_events()
    assert ("resolved", "customer") in told and ("survey", "customer") in told


def test_resolve_without_separate_response_counts_as_first_response() -> None:
    driver = open_case("resolve-first")
    view = driver.act(Resolution(engineer=ENGINEER, summary="Service restored"))
    assert view.first_response is not None
    assert view.first_response.state is ClockState.MET
    assert view.first_response.answered_by == ENGINEER
    assert ("first_response", "customer") in driver.told_events()


def test_rejected_actions_say_why_and_change_nothing() -> None:
    driver = open_case("rejected")
    driver.act(FirstResponse(engineer=ENGINEER, message="On it"))
    before = driver.view.model_copy(deep=True)
    told, attributes = len(driver.told), dict(driver.attributes)
    with pytest.raises(Refused, match=r"already given by li\.wei"):
        driver.act(FirstResponse(engineer="zhang.min", message="Me too"))
    assert driver.view == before
    assert (len(driver.told), driver.attributes) == (told, attributes)


def test_unknown_tenant_is_refused_not_crashed() -> None:
    driver = open_case("unknown", "no-such-tenant")
    view = driver.view
    assert view.status is CaseStatus.REFUSED and driver.done
    assert view.refusal is not None and view.refusal.code == "unknown_tenant"
    assert driver.told_events() == [("refused", "customer")]
    assert driver.attributes == {CaseAttribute.STATUS: "refused"}


# == test_case_lifecycle.py ==========================================================================

# -- cooperation and downgrade ------


def test_missing_impact_analysis_reminds_then_downgrades_a_to_b() -> None:
    driver = open_case("downgrade", severity="A")
    case_id = driver.view.case_id
    assert {r.request_id for r in driver.view.customer_requests} == {
        "impact_analysis",
        "reachable_contacts",
        "contact_data",
    }
    driver.act(Cooperation(request_id="reachable_contacts", details="Wang Fang, 24x7"))
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Investigating"))

    view = driver.advance(timedelta(minutes=61))  # A: 2h to cooperate, reminders at 50% and 75%
    assert kinds(view).count("cooperation_reminder") == 1 and view.severity is Severity.A
    view = driver.advance(timedelta(minutes=30))
    assert kinds(view).count("cooperation_reminder") == 2 and view.severity is Severity.A
    view = driver.advance(timedelta(minutes=30))

    assert view.severity is Severity.B and view.calendar == "product"
    downgrade = view.severity_history[-1]
    assert (downgrade.previous, downgrade.severity, downgrade.actor) == (Severity.A, Severity.B, "system")
    assert "business-impact analysis" in downgrade.reason
    assert view.opened_at is not None
    assert timedelta(0) <= downgrade.at - (view.opened_at + timedelta(hours=2)) < timedelta(seconds=1)
    states = {r.request_id: r.state for r in view.customer_requests}
    assert states == {
        "impact_analysis": RequestState.WAIVED,  # B does not require it
        "reachable_contacts": RequestState.ANSWERED,
        "contact_data": RequestState.ANSWERED,
    }
    clock = view.customer_update
    assert clock is not None and clock.due is not None and clock.target == "1 business day"
    assert clock.due == PRODUCT.add(clock.started_at, timedelta(hours=15))
    ids = sent(driver)
    assert ids.count("downgraded/1") == 2, "the customer and the support queue (A: not the AM after B)"
    assert {a for e, a in driver.told_events() if e == "downgraded"} == {"customer", "support_queue"}
    assert sum("cooperation_reminder_impact_analysis" in i for i in ids) == 2
    assert driver.attributes[CaseAttribute.SEVERITY] == "B"
    assert case_id == driver.view.case_id


def test_silent_c_case_is_closed_unresponsive_with_a_final_notice() -> None:
    driver = open_case("silent", severity="C")
    driver.act(FirstResponse(engineer=ENGINEER, message="Can you confirm your contacts?"))
    [contact_data] = driver.view.customer_requests
    closed_at = driver.run_until(lambda view: view.status.is_final, within=timedelta(days=5))
    assert closed_at == contact_data.due, "closed when the obligation came due, not later"
    final = driver.advance_to(T0 + timedelta(days=5))  # C: 2 business days (30 h) to cooperate

    assert final.status is CaseStatus.CLOSED_UNRESPONSIVE and final.severity is Severity.C
    assert kinds(final).count("cooperation_reminder") == 2
    assert kinds(final)[-1] == "closed_unresponsive"
    assert "closed_unresponsive/0" in sent(driver)
    assert driver.done, "nothing left to wait for: the workflow returns and archives this view"
    assert driver.attributes[CaseAttribute.STATUS] == "closed_unresponsive"


# -- pauses ------


def test_overnight_pause_moves_the_update_deadline_by_business_time_only() -> None:
    driver = open_case("overnight", "fabrikam", at_local(T0, 20, 55), severity="B")
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    driver.advance_to(at_local(T0, 21))
    view = driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    assert view.customer_update is not None
    due_before = view.customer_update.due
    assert due_before is not None

    driver.advance_to(at_local(T0, 22))
    view = driver.act(CustomerActionRequest(engineer=ENGINEER, what="Send the message trace for user 42"))
    assert view.customer_update is not None and view.customer_update.state is ClockState.PAUSED
    driver.advance_to(at_local(T0 + timedelta(days=1), 10))  # overnight: 2 h (22-24) + 1 h (09-10)
    driver.act(Cooperation(request_id="request-1", details="trace.zip attached"))
    view = driver.advance(SETTLE)

    clock = view.customer_update
    assert clock is not None and clock.state is ClockState.RUNNING and clock.due is not None
    moved = PRODUCT.elapsed(due_before, clock.due)
    assert abs(moved - timedelta(hours=3)) < timedelta(seconds=1)  # the story's own steps take ms
    [pause] = view.pauses
    assert (pause.paused_by, pause.resumed_by) == (ENGINEER, "customer")
    assert "message trace" in pause.reason
    assert pause.resumed_at is not None
    assert pause.resumed_at.astimezone(SHANGHAI).hour == 10
    wall = pause.resumed_at - pause.paused_at
    assert abs(wall - timedelta(hours=12)) < timedelta(seconds=1), (
        "12 h paused on the wall clock, 3 h of business"
    )
    assert not [k for k in kinds(view) if k.startswith("customer_update_")], "nothing fires while paused"


def test_no_update_warning_or_breach_fires_while_paused() -> None:
    driver = open_case("paused", severity="A")
    for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
        driver.act(Cooperation(request_id=obligation, details="done"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    driver.act(CustomerActionRequest(engineer=ENGINEER, what="Run the probe"))
    driver.advance(timedelta(minutes=100))  # A updates every 4h: 50% would be at 2h of running time
    driver.act(Cooperation(request_id="request-1", details="probe output"))
    view = driver.advance(timedelta(hours=2, minutes=1))
    assert view.severity is Severity.A
    assert view.customer_update is not None
    assert view.customer_update.warnings_sent == ["customer_update_warning_50"]
    assert not view.sla_breached


# -- customer updates and follow-ups ------


def test_missed_customer_update_is_a_breach_and_an_update_starts_the_next_cycle() -> None:
    driver = open_case("missed-update", severity="A")
    for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
        driver.act(Cooperation(request_id=obligation, details="done"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    view = driver.advance(timedelta(hours=4, minutes=1))
    assert view.sla_breached and view.customer_update is not None
    assert view.customer_update.state is ClockState.BREACHED
    assert driver.attributes[CaseAttribute.SLA_BREACHED] is True
    driver.act(CustomerUpdate(engineer=ENGINEER, message="Fix rolling out"))
    view = driver.advance(timedelta(hours=1))
    results = [(r.clock, r.cycle, r.state) for r in view.sla_results]
    assert results == [
        ("first_response", 0, ClockState.MET),
        ("customer_update", 0, ClockState.BREACHED),
        ("customer_update", 1, ClockState.RUNNING),
    ]
    ids = sent(driver)
    assert "customer_update_breached/0" in ids
    assert "customer_update/0" in ids
    # A: follow-up to the assigned engineer after 2h of no activity
    assert "follow_up/1" in ids
    assert ("follow_up", "engineer") in driver.told_events()


# -- severity changes ------


def test_severity_change_after_a_pause_keeps_the_pause() -> None:
    driver = open_case("pause-kept", "fabrikam", at_local(T0, 11), severity="B")
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    driver.advance(timedelta(hours=1))
    driver.act(CustomerActionRequest(engineer=ENGINEER, what="Screenshots"))
    driver.advance(timedelta(hours=3))
    driver.act(Cooperation(request_id="request-1", details="attached"))
    driver.advance(timedelta(hours=1))
    view = driver.act(
        SeverityChangeRequest(engineer="zhang.min", severity=Severity.C, reason="workaround in place")
    )
    clock = view.customer_update
    assert clock is not None and clock.due is not None and clock.target == "2 business days"
    [pause] = view.pauses
    assert pause.resumed_at is not None
    paused = PRODUCT.elapsed(pause.paused_at, pause.resumed_at)
    assert abs(paused - timedelta(hours=3)) < timedelta(seconds=1)  # the story's own steps take ms
    assert PRODUCT.elapsed(clock.started_at, clock.due) - paused == timedelta(hours=30)
    change = view.severity_history[-1]
    assert (change.previous, change.severity, change.actor, change.reason) == (
        Severity.B,
        Severity.C,
        "zhang.min",
        "workaround in place",
    )
    assert driver.attributes[CaseAttribute.SEVERITY] == "C"


def test_change_to_a_severity_whose_target_is_past_breaches_at_once() -> None:
    driver = open_case("past-target", "fabrikam", severity="C")
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    view = driver.advance(timedelta(hours=25))  # 16 h of business time: past B's 15 h, before C's 22.5 h
    assert not view.sla_breached and view.first_response is not None
    assert view.first_response.warnings_sent == []
    driver.act(SeverityChangeRequest(engineer="zhang.min", severity=Severity.B, reason="more users affected"))
    view = driver.advance(SETTLE)
    clock = view.first_response
    assert clock is not None and clock.state is ClockState.BREACHED and view.sla_breached
    assert clock.warnings_sent == [], "a deadline already gone is a breach, not a string of warnings"
    assert clock.breached_at is not None
    assert clock.breached_at - view.severity_history[-1].at < timedelta(seconds=2)
    assert "sla_breached/0" in sent(driver)
    assert not [i for i in driver.told_ids() if "sla_warning" in i]
    assert driver.attributes[CaseAttribute.SLA_BREACHED] is True


@pytest.mark.parametrize(
    ("tenant", "category", "to", "reason"),
    [
        ("fabrikam", "technical", Severity.A, "needs a premium support agreement"),
        ("contoso", "billing", Severity.A, "billing cases are at most severity B"),
    ],
)
def test_severity_change_against_entitlement_is_refused_with_the_reason(
    tenant: str, category: str, to: Severity, reason: str
) -> None:
    driver = open_case("entitlement", tenant, severity="B", category=category)
    before = driver.view.model_copy(deep=True)
    with pytest.raises(Refused, match=reason):
        driver.act(SeverityChangeRequest(engineer=ENGINEER, severity=to, reason="customer insists"))
    view = driver.view
    assert view.severity is Severity.B and len(view.severity_history) == 1
    assert view == before


# -- resolution, reopen, survey ------


def test_reopen_within_window_then_survey_answered_without_reminder() -> None:
    driver = open_case("reopen", severity="C")
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    driver.act(Resolution(engineer=ENGINEER, summary="Cache cleared"))
    driver.advance(timedelta(days=2))
    view = driver.act(ReopenRequest(requester="admin@contoso.example", reason="It is back"))
    assert view.status is CaseStatus.IN_PROGRESS and view.reopened_count == 1
    assert view.customer_update is not None and view.customer_update.state is ClockState.RUNNING
    assert driver.attributes[CaseAttribute.STATUS] == "in_progress"
    driver.act(Resolution(engineer=ENGINEER, summary="Profile rebuilt"))
    assert driver.advance(timedelta(days=7, minutes=1)).status is CaseStatus.CLOSED
    driver.act(SurveyAnswer(score=4, comment="Quick, thanks"))
    final = driver.advance(timedelta(days=8))
    assert final.survey is not None
    assert (final.survey.outcome, final.survey.score) == (SurveyOutcome.ANSWERED, 4)
    assert "survey_reminder" not in kinds(final)
    ids = sent(driver)
    assert "survey/0" in ids and "survey_reminder/0" not in ids
    assert "resolved/0" in ids and "resolved/1" in ids
    assert driver.done, "the workflow returns (and archives this view) once the survey is answered"


def test_reopen_after_the_window_is_refused() -> None:
    driver = open_case("late-reopen", severity="C")
    driver.act(Resolution(engineer=ENGINEER, summary="Done"))
    driver.advance(timedelta(days=7, minutes=1))
    with pytest.raises(Refused, match="only a resolved case can be reopened; this case is closed"):
        driver.act(ReopenRequest(requester="admin@contoso.example", reason="Again"))


# -- continue-as-new ------


def story(driver: Driver) -> dict[str, object]:
    """What must be the same for two runs of the same script (test_case_lifecycle's `story`)."""
    view = driver.view
    return {
        "status": view.status,
        "timeline": [(e.kind, e.actor) for e in view.timeline],
        "severities": [h.severity for h in view.severity_history],
        "sla": [(r.clock, r.cycle, r.state) for r in view.sla_results],
        "follow_ups": view.follow_ups_sent,
        "survey": (view.survey.outcome, view.survey.score) if view.survey else None,
        "notifications": sorted(sent(driver)),
    }


def test_continue_as_new_case_ends_identical_to_one_that_did_not() -> None:
    request = case_request("carried", "fabrikam", severity="B")
    plain, tiny = Driver(request, T0), Driver(request, T0, carry=True)
    pause = timedelta(seconds=2)  # each step settles before the next, as on the server

    def both(action: Event) -> None:
        for driver in (plain, tiny):
            driver.act(action)
            driver.advance(pause)

    def wait(duration: timedelta) -> None:
        for driver in (plain, tiny):
            driver.advance(duration)

    both(Cooperation(request_id="contact_data", details="confirmed"))
    both(FirstResponse(engineer=ENGINEER, message="Looking"))
    wait(timedelta(days=4))  # idle follow-ups and missed updates pile up
    both(CustomerUpdate(engineer=ENGINEER, message="Still on it"))
    wait(timedelta(days=2))
    both(Resolution(engineer=ENGINEER, summary="Patched"))
    wait(timedelta(days=7, minutes=1))
    both(SurveyAnswer(score=5))
    wait(timedelta(days=1))

    assert tiny.carries > 10 and plain.carries == 0, "the tiny-history case really continued as new"
    assert tiny.view.follow_ups_sent >= 3
    assert plain.done and tiny.done
    assert story(tiny) == story(plain)
    assert tiny.told == plain.told, "the same notifications, in the same order, with the same facts"
    # What callers read (the view query's JSON) is the same too. The records themselves differ by
    # a little: a carried Duration is written in whole seconds ("2s"), so the carried case's
    # business_time_to_answer lost its milliseconds, as every JSON of the view does.
    assert tiny.view.model_dump_json() == plain.view.model_dump_json()


# == what always holds ===============================================================================

ENGINEERS = (ENGINEER, "zhang.min")
REQUESTS = ("impact_analysis", "reachable_contacts", "contact_data", "request-1", "request-2", "unknown")
ACTIONS: list[Event] = [
    *(Cooperation(request_id=r, details="done") for r in REQUESTS),
    *(Cooperation(request_id=r, details="done") for r in REQUESTS),  # twice: the customer is busy
    *(
        CustomerActionRequest(engineer=e, what="Send the logs", pauses_clock=p)
        for e in ENGINEERS
        for p in (True, False)
    ),
    *(FirstResponse(engineer=e, message="On it") for e in ENGINEERS),
    *(CustomerUpdate(engineer=e, message="Still on it") for e in ENGINEERS),
    *(SeverityChangeRequest(engineer=ENGINEER, severity=s, reason="why") for s in Severity),
    Resolution(engineer=ENGINEER, summary="Fixed"),
    ReopenRequest(requester="admin@contoso.example", reason="It is back"),
    SurveyAnswer(score=1),
    SurveyAnswer(score=5),
    # issue 15: handovers, notes, email replies (a repeat, a survey score) and withdrawal
    *(Assignment(engineer=ENGINEER, assignee=e, reason="handover") for e in ENGINEERS),
    InternalNote(engineer=ENGINEER, note="for colleagues"),
    *(
        CustomerReply(message_id=f"{n:064x}", sender="a***@contoso.example", body=body)
        for n, body in enumerate(["Here it is", "Here it is", "4 thanks"])
    ),
    CustomerReply(message_id=f"{0:064x}", sender="a***@contoso.example", body="Here it is"),
    Withdrawal(requester="admin@contoso.example", reason="It fixed itself"),
    # issue 23: obligations accepted, or asked for again once answered
    *(ObligationAcceptance(engineer=ENGINEER, request_id=o) for o in ("impact_analysis", "contact_data")),
    ObligationAskedAgain(engineer=ENGINEER, request_id="contact_data", reason="the phone number is missing"),
]
WAITS = [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=5), timedelta(days=1), timedelta(days=3)]
FAILURES = [0, 1, 3, 7, 15]  # the n-th notification told so far could not be delivered
# One draw a step, from a fixed list (drawing models field by field costs more than the machine):
# about three in five are actions, the rest time passing, to the next wake-up, or a failed delivery.
Step = Event | timedelta | int | Literal["next"]
CHOICES: list[Step] = [*ACTIONS, *WAITS, *WAITS, "next", "next", *FAILURES]
STEPS = st.sampled_from(CHOICES)


def check_invariants(driver: Driver) -> None:
    view = driver.view
    assert isinstance(view.status, CaseStatus)
    if view.status is CaseStatus.RESOLVED:
        assert view.reopen_until is not None and view.resolved_at is not None
    if view.status is CaseStatus.CLOSED:
        assert view.closed_at is not None and view.survey is not None
    if view.status is CaseStatus.WITHDRAWN:
        assert view.closed_at is not None and view.survey is None and view.withdrawal is not None
    assert len(view.reply_ids) == len(set(view.reply_ids)), "a reply landed twice"
    if view.status.is_final:
        assert not any(c is not None and c.running for c in (view.first_response, view.customer_update))
    ids = Counter(n.notification_id for n in driver.told)
    assert not [i for i, count in ids.items() if count > 1], "a notification id told twice"
    assert len(view.timeline) <= TIMELINE_FIRST + TIMELINE_RECENT
    instants = [e.at for e in view.timeline]
    assert instants == sorted(instants) and all(at <= driver.now for at in instants)
    if view.severity is not None:
        assert view.severity_history[-1].severity is view.severity
    breaches = any(r.state is ClockState.BREACHED for r in view.sla_results)
    assert view.sla_breached == (breaches or view.customer_update_breaches_omitted > 0)
    assert driver.attributes.get(CaseAttribute.SLA_BREACHED, False) == view.sla_breached
    assert driver.attributes.get(CaseAttribute.STATUS) == view.status.value
    # issue 27: what the queue reads is what the case is, after every decision, from at most one
    # upsert each; and no decision leaves the workflow asleep on a stale instant
    starter = {CaseAttribute.STATUS: CaseStatus.NEW.value, CaseAttribute.SLA_BREACHED: False}
    for key, value in published(view).items():
        assert driver.attributes.get(key, starter.get(key)) == value, key
    assert max(driver.upserts, default=0) <= 1, "a decision upserted twice"
    assert driver.stale_sleeps == [], "a decision changed the agenda's first instant without waking"
    upcoming = driver.upcoming()
    assert [w.at for w in upcoming] == sorted(w.at for w in upcoming)
    assert all(w.at > driver.now for w in upcoming), "a wake-up left due"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tenant=st.sampled_from(["contoso", "fabrikam"]),
    category=st.sampled_from(["technical", "billing", "presales"]),
    severity=st.sampled_from(["A", "B", "C"]),
    opened_at=st.sampled_from(OPENINGS),
    steps=st.lists(STEPS, min_size=10, max_size=30),
)
def test_any_allowed_actions_and_time_keep_the_case_whole(
    tenant: str, category: str, severity: str, opened_at: datetime, steps: list[Step]
) -> None:
    """Actions the validators allow are taken, the others must be refused without a trace; no
    pace between steps, so actions also meet timers in the same instant."""
    driver = Driver(
        case_request("fuzz", tenant, category=category, severity=severity), opened_at, pace=timedelta(0)
    )
    check_invariants(driver)
    for step in steps:
        if isinstance(step, timedelta):
            driver.advance(step)
        elif isinstance(step, str):  # "next"
            upcoming = driver.upcoming()
            if upcoming:
                driver.advance_to(upcoming[0].at)
        elif isinstance(step, int):
            if step < len(driver.told) and not driver.done:
                failed = driver.told[step]
                driver.deliver(DeliveryFailed(notification=failed, reason="550 mailbox unavailable"))
        elif not driver.done:  # an action: refused ones must change nothing
            reason = driver.refusal(step) if isinstance(step, VALIDATED) else None
            if reason is None:
                driver.act(step)
            else:
                before, told = driver.view.model_dump_json(), len(driver.told)
                with pytest.raises(Refused, match=re.escape(reason)):
                    driver.act(step)
                assert (driver.view.model_dump_json(), len(driver.told)) == (before, told)
        check_invariants(driver)


def test_each_cooperation_tells_the_engineer_under_its_own_id() -> None:
    driver = open_case("cooperations", severity="A")
    driver.act(Cooperation(request_id="reachable_contacts", details="Wang Fang, 24x7"))
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    told = driver.told_ids("customer_cooperated/")
    assert len(told) == 2
    assert len(set(told)) == 2, told

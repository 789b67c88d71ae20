"""The SLA ledger (support.sla_clocks.ledger): a hand-computed case across a weekend, a PRC holiday and a
make-up workday, and over random cases the property that makes it worth reading: its running
segments add up to the business time each clock used, to the second."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.case.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    SeverityChangeRequest,
)
from support.case.view import CaseView
from support.policies.vocabulary import Severity
from support.rules.entitlement import case_calendar
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clocks import SlaClock, used
from support.sla_clocks.ledger import CaseLedger, ClockLedger, SegmentKind, case_ledger, clock_calendar
from tests.case_driver import VALIDATED, Driver
from tests.requests import case_request
from tests.unit.test_case_machine import CHOICES, OPENINGS, Step

SHANGHAI = ZoneInfo("Asia/Shanghai")


def ledger_of(driver: Driver) -> CaseLedger:
    return case_ledger(driver.view, driver.case.rules, driver.case.facts.time_zone, driver.now)


def clock_used(driver: Driver, clock: SlaClock) -> timedelta:
    """The clock's own figure: what it answered in, or what it has used so far."""
    if clock.business_time_to_answer is not None:
        return clock.business_time_to_answer
    calendar = clock_calendar(driver.view, clock, lambda s: _calendar(driver, s), driver.now)
    return used(clock, calendar, driver.now)


def _calendar(driver: Driver, severity: Severity) -> Calendar:
    return case_calendar(driver.case.rules, driver.view.category, severity, driver.case.facts.time_zone)


def check_ledger(driver: Driver, ledger: CaseLedger) -> None:
    view: CaseView = driver.view
    by_name = {(c.clock, c.cycle): c for c in ledger.clocks if c.clock != "obligation"}
    for clock in (view.first_response, view.customer_update):
        if clock is None:
            continue
        entry = by_name[(clock.name.value, clock.cycle)]
        assert abs(entry.used_seconds - clock_used(driver, clock).total_seconds()) < 1e-6
        running = sum(s.business_seconds for s in entry.segments if s.kind.counts)
        assert abs(running - entry.used_seconds) < 1e-6
        assert abs(sum(a.business_seconds for a in entry.by_assignee) - entry.used_seconds) < 1e-6
    for entry in ledger.clocks:
        check_segments(entry)


def check_segments(entry: ClockLedger) -> None:
    """Contiguous from the clock's start, markers are instants, only running time is charged."""
    spans = [s for s in entry.segments if s.kind is not SegmentKind.SEVERITY_CHANGED]
    for before, after in pairwise(spans):
        assert before.end == after.start, (before, after)
    for segment in entry.segments:
        assert segment.start <= segment.end
        if segment.kind is SegmentKind.SEVERITY_CHANGED:
            assert segment.start == segment.end and segment.severity is not None
        elif segment.kind.counts:
            assert segment.business_seconds == (segment.end - segment.start).total_seconds()
        else:
            assert segment.business_seconds == 0 and segment.assignee is None
    if spans and entry.clock != "obligation":
        assert spans[0].start == entry.started_at


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tenant=st.sampled_from(["contoso", "fabrikam"]),
    category=st.sampled_from(["technical", "billing", "presales"]),
    severity=st.sampled_from(["A", "B", "C"]),
    opened_at=st.sampled_from(OPENINGS),
    steps=st.lists(st.sampled_from(CHOICES), min_size=5, max_size=30),
)
def test_running_segments_add_up_to_each_clocks_business_time(
    tenant: str, category: str, severity: str, opened_at: datetime, steps: list[Step]
) -> None:
    driver = Driver(case_request("ledger", tenant, category=category, severity=severity), opened_at)
    if driver.view.first_response is None:
        return  # refused: no clocks
    for step in steps:
        if isinstance(step, timedelta):
            driver.advance(step)
        elif isinstance(step, str):
            upcoming = driver.upcoming()
            if upcoming:
                driver.advance_to(upcoming[0].at)
        elif isinstance(step, int):
            continue
        elif not driver.done and (not isinstance(step, VALIDATED) or driver.refusal(step) is None):
            driver.act(step)
        check_ledger(driver, ledger_of(driver))


# == a case by hand ===================================================================================


def local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%a %m-%d %H:%M")


def test_a_billing_case_across_a_weekend_the_national_day_and_a_make_up_day() -> None:
    """Billing (09:00-18:00 weekdays, PRC holidays) opened Wednesday 30 Sep 2026 at 17:00: 1 h
    that day, then National Day (1-7 Oct, holidays and a weekend), then Saturday 10 Oct, a make-up
    workday, runs again."""
    opened = datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)
    driver = Driver(case_request("by-hand", "contoso", category="billing", severity="B"), opened)
    calendar = driver.case.calendar
    assert calendar.day_kind(datetime(2026, 10, 10).date()) == "make_up_workday"
    assert calendar.day_kind(datetime(2026, 10, 1).date()) == "holiday"
    driver.act(Assignment(engineer="li.wei", assignee="zhang.min", reason="billing desk"))
    driver.advance_to(datetime(2026, 10, 10, 10, 30, tzinfo=SHANGHAI))
    ledger = ledger_of(driver)
    first = ledger.clocks[0]
    assert first.clock == "first_response"
    kinds = [(s.kind.value, local(s.start), local(s.end)) for s in first.segments]
    assert kinds[0][0] == "running" and kinds[0][1] == "Wed 09-30 17:00"
    assert ("holiday", "Thu 10-01 00:00", "Sat 10-03 00:00") in kinds
    assert kinds[-1] == ("make_up_workday", "Sat 10-10 09:00", "Sat 10-10 10:30")
    check_ledger(driver, ledger)
    assert first.by_assignee[0].assignee == "zhang.min"


def test_pauses_name_the_request_and_a_downgrade_is_marked() -> None:
    opened = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # Monday
    driver = Driver(case_request("pauses", "contoso", severity="B"), opened)
    driver.act(FirstResponse(engineer="li.wei", message="On it"))
    driver.advance(timedelta(minutes=30))
    driver.act(CustomerActionRequest(engineer="li.wei", what="Send the log", pauses_clock=True))
    driver.advance(timedelta(hours=3, minutes=10))
    driver.act(Cooperation(request_id="request-1", details="here"))
    driver.advance(timedelta(minutes=20))
    driver.act(SeverityChangeRequest(engineer="li.wei", severity=Severity.C, reason="workaround"))
    driver.advance(timedelta(minutes=5))
    driver.act(CustomerUpdate(engineer="li.wei", message="Working"))
    ledger = ledger_of(driver)
    update = next(c for c in ledger.clocks if c.clock == "customer_update" and c.cycle == 0)
    kinds = [s.kind for s in update.segments]
    assert SegmentKind.PAUSED_AWAITING_CUSTOMER in kinds and SegmentKind.SEVERITY_CHANGED in kinds
    paused = next(s for s in update.segments if s.kind is SegmentKind.PAUSED_AWAITING_CUSTOMER)
    assert paused.request_id == "request-1"
    assert paused.end - paused.start == timedelta(hours=3, minutes=10, milliseconds=10)
    check_ledger(driver, ledger)

"""SLA rules that decide who is told, and how urgently: warnings superseded by a later point
already due, and the priority of escalations."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from support.messaging.notifications import Audience, urgency
from support.policies.targets import Target
from support.sla_clocks.clocks import (
    ClockName,
    ClockTerms,
    SlaClock,
    checkpoint_event,
    pause_clock,
    reach_checkpoint,
    resume_clock,
    start_clock,
    superseded,
)
from tests.calendars import PRODUCT

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENED = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
WARN_AT = [0.5, 0.8]
TERMS = ClockTerms(PRODUCT, tuple(WARN_AT))


def clock_of_one_hour() -> SlaClock:
    return start_clock(ClockName.FIRST_RESPONSE, TERMS, Target.model_validate("1h"), OPENED)


def test_a_warning_on_time_is_told() -> None:
    clock = clock_of_one_hour()
    fifty = clock.checkpoints[0]
    assert not superseded(clock, fifty, fifty.at)
    assert not superseded(clock, fifty, fifty.at + timedelta(minutes=10)), "80 % is not due yet"


def test_a_late_warning_is_superseded_by_a_later_point_already_due() -> None:
    clock = clock_of_one_hour()
    fifty, eighty, breach = clock.checkpoints
    assert superseded(clock, fifty, eighty.at)
    assert superseded(clock, fifty, breach.at + timedelta(hours=3))
    assert not superseded(clock, breach, breach.at + timedelta(hours=3)), "a breach is always told"


def test_a_superseded_warning_is_remembered_apart_and_never_planned_again() -> None:
    clock = clock_of_one_hour()
    fifty = clock.checkpoints[0]
    late = fifty.at + timedelta(minutes=20)
    clock = reach_checkpoint(clock, fifty, late, told=False)
    assert clock.warnings_sent == [] and clock.warnings_superseded == [checkpoint_event(clock, fifty)]
    # A pause and a resume re-plan the checkpoints from the segments: the 50 % point stays reached.
    resumed = resume_clock(pause_clock(clock, late), TERMS, late + timedelta(minutes=5))
    assert [round(c.fraction * 100) for c in resumed.checkpoints] == [80, 100]


def test_escalations_to_the_duty_manager_go_first_then_the_customers_messages() -> None:
    assert urgency("sla_breached", Audience.DUTY_MANAGER) == 1
    assert urgency("customer_update_breached", Audience.DUTY_MANAGER) == 1
    assert urgency("sla_breached", Audience.SUPPORT_QUEUE) == 3
    assert urgency("acknowledged", Audience.CUSTOMER) == urgency("acknowledged", Audience.REQUESTER) == 2
    assert urgency("sla_warning_50", Audience.SUPPORT_QUEUE) == 3

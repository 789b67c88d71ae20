"""`starter.py policy due` answers with the deadline a case opening at that instant really gets.

The real clock is started the way a case starts it (the case's calendar, the granted severity's
target, the policy's warnings); the CLI's answer must name the same instants.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.policy_file import load_policy_snapshot
from adapters.settings import Settings
from interfaces.cli.operator_commands import policy_due
from support.policies.vocabulary import Agreement, Category, Severity
from support.rules.entitlement import case_calendar, decide_severity
from support.sla_clocks.clocks import ClockName, ClockTerms, checkpoint_event, start_clock

TENANT_ZONES = ["Asia/Shanghai", "Europe/Budapest", "America/New_York", "Australia/Lord_Howe", "UTC"]

openings = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([UTC, *(ZoneInfo(z) for z in TENANT_ZONES)]),
    allow_imaginary=False,  # the CLI reads an instant with its UTC offset: never in a DST gap
)


@settings(max_examples=300, deadline=None)
@given(
    opened=openings,
    severity=st.sampled_from(list(Severity)),
    category=st.sampled_from(list(Category)),
    agreement=st.sampled_from(list(Agreement)),
    tenant_zone=st.sampled_from(TENANT_ZONES),
)
def test_policy_due_is_the_deadline_of_the_clock_a_case_starts(
    opened: datetime, severity: Severity, category: Category, agreement: Agreement, tenant_zone: str
) -> None:
    answer = policy_due(
        argparse.Namespace(
            severity=severity, category=category, opened=opened, agreement=agreement, time_zone=tenant_zone
        )
    )

    policy = load_policy_snapshot(Settings().policy_path, opened.year)
    granted = decide_severity(policy, category, severity, agreement).granted
    calendar = case_calendar(policy, category, granted, tenant_zone)
    clock = start_clock(
        ClockName.FIRST_RESPONSE,
        ClockTerms(calendar, tuple(policy.sla.warn_at)),
        policy.severities[granted].first_response,
        opened,
    )

    assert clock.due is not None
    assert answer["severity"] == granted.value
    assert datetime.fromisoformat(answer["first_response_due"]) == clock.due
    assert answer["first_response_business_time_seconds"] == int(clock.business_time.total_seconds())
    *warnings, breach = clock.checkpoints
    assert breach.is_breach and breach.at == clock.due
    assert [(w["event"], datetime.fromisoformat(w["at"])) for w in answer["warnings"]] == [
        (checkpoint_event(clock, c), c.at) for c in warnings
    ]
    # and what the instants mean: that much business time on the case's calendar after opening
    assert calendar.elapsed(opened, clock.due) == clock.business_time
    for c in warnings:
        assert c.at == calendar.add(opened, clock.business_time * c.fraction)
        assert opened <= c.at <= clock.due


def test_policy_due_names_warnings_at_fractions_of_business_time() -> None:
    opened = datetime(2026, 11, 23, 23, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # 1h of business time left
    answer = policy_due(
        argparse.Namespace(
            severity=Severity.B,
            category=Category.TECHNICAL,
            opened=opened,
            agreement=Agreement.STANDARD,
            time_zone=None,
        )
    )
    assert answer["first_response_due"] == "2026-11-24T23:00:00+08:00"
    assert answer["warnings"] == [
        {"event": "sla_warning_50", "at": "2026-11-24T15:30:00+08:00"},
        {"event": "sla_warning_80", "at": "2026-11-24T20:00:00+08:00"},
    ]
    assert timedelta(seconds=answer["first_response_business_time_seconds"]) == timedelta(hours=15)

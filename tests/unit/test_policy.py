"""policy.toml reproduces the support policy of DESIGN.md, and bad files say where they are wrong."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.policies.policy import PolicyError, parse_policy, policy_from_dict
from support.policies.vocabulary import Agreement, Category, Severity
from support.rules.case_terms import CaseTerms, case_terms
from support.rules.entitlement import decide_severity

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
RAW: dict[str, Any] = tomllib.loads((PROJECT_ROOT / "policy.toml").read_text())


def due(
    category: str, severity: str, opened: datetime, agreement: str = "premium", zone: str = "Asia/Shanghai"
) -> CaseTerms:
    return case_terms(POLICY, Category(category), Severity(severity), Agreement(agreement), zone, opened)


# -- the table in DESIGN.md, row by row ----------------------------------------------------------------


def test_row_a_one_hour_around_the_clock() -> None:
    saturday_3am = datetime(2026, 11, 28, 3, 0, tzinfo=SHANGHAI)
    terms = due("technical", "A", saturday_3am)
    assert terms.decision.granted is Severity.A and terms.calendar_name == "always"
    assert terms.first_response.due == saturday_3am + timedelta(hours=1)


def test_row_b_one_business_day_of_15_hours_every_day() -> None:
    sunday_10 = datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI)
    terms = due("technical", "B", sunday_10)
    assert terms.calendar_name == "product" and terms.first_response.business_time == timedelta(hours=15)
    assert terms.first_response.due == datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
    # opened at 02:00 (closed): the clock starts at 09:00 and runs to 24:00
    assert due(
        "technical", "B", datetime(2026, 11, 24, 2, 0, tzinfo=SHANGHAI)
    ).first_response.due == datetime(2026, 11, 25, 0, 0, tzinfo=SHANGHAI)


def test_row_c_three_business_days_on_the_same_calendar() -> None:
    opened = datetime(2026, 11, 23, 23, 30, tzinfo=SHANGHAI)
    terms = due("technical", "C", opened)
    assert terms.calendar_name == "product" and terms.first_response.business_time == timedelta(hours=45)
    assert terms.first_response.due == datetime(2026, 11, 26, 23, 30, tzinfo=SHANGHAI)


def test_the_issue_example_b_at_23_30() -> None:
    terms = due("technical", "B", datetime.fromisoformat("2026-11-23T23:30:00+08:00"), agreement="standard")
    assert terms.first_response.due == datetime.fromisoformat("2026-11-24T23:30:00+08:00")


def test_billing_works_beijing_office_hours_with_prc_holidays_and_make_up_days() -> None:
    # Sep 30 17:00: 1h left, Oct 1-7 National Day holidays, Oct 8 09:00 + 8h
    terms = due("billing", "B", datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI))
    assert terms.calendar_name == "billing" and terms.first_response.business_time == timedelta(hours=9)
    assert terms.first_response.due == datetime(2026, 10, 8, 17, 0, tzinfo=SHANGHAI)
    billing = POLICY.calendars["billing"]
    assert billing.is_open(datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI)), "official make-up Saturday"
    assert billing.is_open(datetime(2026, 9, 20, 10, 0, tzinfo=SHANGHAI)), "official make-up Sunday"
    assert not billing.is_open(datetime(2026, 10, 9, 20, 0, tzinfo=SHANGHAI)), "after 18:00"
    assert not billing.is_open(datetime(2026, 10, 17, 10, 0, tzinfo=SHANGHAI)), "ordinary Saturday"


def test_presales_works_mon_fri_in_the_tenants_own_zone() -> None:
    budapest = ZoneInfo("Europe/Budapest")
    terms = due("presales", "B", datetime(2026, 11, 27, 17, 0, tzinfo=budapest), zone="Europe/Budapest")
    assert terms.calendar.time_zone == "Europe/Budapest"
    # Friday 17:00: 1h left, weekend, Monday 09:00 + 8h
    assert terms.first_response.due == datetime(2026, 11, 30, 17, 0, tzinfo=budapest)


# -- caps by category and agreement -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "requested", "agreement", "granted", "codes"),
    [
        ("technical", "A", "premium", "A", []),
        ("technical", "A", "standard", "B", ["agreement_required"]),
        ("technical", "B", "standard", "B", []),
        ("technical", "C", "premium", "C", []),
        ("billing", "A", "premium", "B", ["category_cap"]),
        ("billing", "A", "standard", "B", ["category_cap"]),
        ("billing", "B", "premium", "B", []),
        ("billing", "C", "standard", "C", []),
        ("presales", "A", "premium", "B", ["category_cap"]),
        ("presales", "B", "standard", "B", []),
        ("presales", "C", "premium", "C", []),
    ],
)
def test_severity_caps(category: str, requested: str, agreement: str, granted: str, codes: list[str]) -> None:
    decision = decide_severity(POLICY, Category(category), Severity(requested), Agreement(agreement))
    assert decision.granted.value == granted
    assert [cap.code for cap in decision.caps] == codes
    assert all(cap.message for cap in decision.caps)


def test_warnings_are_at_fractions_of_business_time_not_wall_clock() -> None:
    opened = datetime(2026, 11, 23, 23, 0, tzinfo=SHANGHAI)  # 1h of business time left today
    plan = due("technical", "B", opened).first_response
    fifty, eighty, breach = plan.checkpoints
    assert (fifty.event, eighty.event, breach.event) == ("sla_warning_50", "sla_warning_80", "sla_breached")
    assert fifty.at == datetime(2026, 11, 24, 15, 30, tzinfo=SHANGHAI)  # 7.5h in: 1h + 6.5h
    assert eighty.at == datetime(2026, 11, 24, 20, 0, tzinfo=SHANGHAI)  # 12h in
    assert breach.at == plan.due


# -- the file ------------------------------------------------------------------------------------------


def mutated(path: tuple[str, ...], value: object) -> dict[str, Any]:
    data = tomllib.loads((PROJECT_ROOT / "policy.toml").read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("calendars", "billing", "hours"), {"mon": ["9-18"]}, "[calendars.billing] hours.mon[0]: "),
        (("calendars", "billing", "time_zone"), "Asia/Beijing", "[calendars.billing] time_zone: "),
        (("severities", "B", "first_response"), "soon", "[severities.B] first_response: "),
        (("severities", "C", "calendar"), "weekdays", "[severities.C] calendar: no [calendars.weekdays]"),
        (("categories", "billing", "max_severity"), "D", "[categories.billing] max_severity: "),
        (("sla", "warn_at"), [0.5, 1.5], "[sla] warn_at: "),
        (("calendars", "product", "holidays"), ["2026-02-30"], "[calendars.product] holidays[0]: "),
        (("severities", "A", "requires_agreement"), "gold", "[severities.A] requires_agreement: "),
    ],
)
def test_bad_policy_names_table_and_field(path: tuple[str, ...], value: object, expected: str) -> None:
    with pytest.raises(PolicyError) as error:
        policy_from_dict(mutated(path, value), "policy.toml")
    assert f"policy.toml: {expected}" in str(error.value)


def test_missing_severity_and_unknown_keys_are_reported() -> None:
    data = mutated(("severities", "B", "frist_response"), "1h")
    del data["severities"]["C"]
    with pytest.raises(PolicyError) as error:
        policy_from_dict(data, "p.toml")
    assert "frist_response" in str(error.value)


def test_toml_syntax_error_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"^broken\.toml: not valid TOML"):
        parse_policy("[severities.A\n", "broken.toml")


def test_unknown_holiday_country_is_an_error_at_load(tmp_path: Path) -> None:
    text = (
        (PROJECT_ROOT / "policy.toml").read_text().replace('holiday_country = "CN"', 'holiday_country = "XX"')
    )
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="holiday_country 'XX'"):
        load_policy_snapshot(path, 2026)


def test_snapshot_keeps_file_dates_over_country_dates(tmp_path: Path) -> None:
    text = (
        (PROJECT_ROOT / "policy.toml")
        .read_text()
        .replace(
            'holiday_country = "CN"', 'holiday_country = "CN"\noverrides = { "2026-10-02" = ["09:00-12:00"] }'
        )
    )
    path = tmp_path / "p.toml"
    path.write_text(text)
    billing = load_policy_snapshot(path, 2026).calendars["billing"]
    assert billing.holiday_country is None, "country dates are written out in the snapshot"
    assert billing.is_open(datetime(2026, 10, 2, 10, 0, tzinfo=SHANGHAI))
    assert not billing.is_open(datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI))


def test_snapshot_round_trips_as_json_like_the_workflow_stores_it() -> None:
    from support.policies.policy import Policy

    again = Policy.model_validate_json(POLICY.model_dump_json())
    assert again == POLICY
    assert RAW["version"] == again.version


def test_an_edited_policy_file_applies_to_the_next_snapshot(tmp_path: Path) -> None:
    """Snapshots are reused while the file is unchanged; an edit is read at the next case."""
    path = tmp_path / "p.toml"
    text = (PROJECT_ROOT / "policy.toml").read_text()
    path.write_text(text)
    first = load_policy_snapshot(path, 2026)
    assert load_policy_snapshot(path, 2026) is first
    path.write_text(text.replace('max_interval = "10m"', 'max_interval = "20m"'))
    edited = load_policy_snapshot(path, 2026)
    assert edited.delivery.max_interval == timedelta(minutes=20) != first.delivery.max_interval

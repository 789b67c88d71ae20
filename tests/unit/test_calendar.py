"""Business-hours calendar: DST, windows, 24:00, holidays, overrides, long spans, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from support.sla_clocks.calendar import WEEKDAYS, Calendar
from tests.calendars import (
    ALL,
    BERLIN_NIGHTS,
    BILLING_2026,
    NEW_YORK_LUNCH,
    PRODUCT,
    STEP,
    reference_add,
    reference_open,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)


def always(zone: str) -> Calendar:
    return Calendar.model_validate({"time_zone": zone, "hours": {d: ["00:00-24:00"] for d in WEEKDAYS}})


# -- DST ----------------------------------------------------------------------------------------


def test_new_york_spring_forward_day_has_23_business_hours() -> None:
    cal = always("America/New_York")
    start = datetime(2026, 3, 8, 0, 0, tzinfo=NY)
    assert cal.elapsed(start, datetime(2026, 3, 9, 0, 0, tzinfo=NY)) == 23 * H
    assert cal.add(start, 24 * H) == datetime(2026, 3, 9, 1, 0, tzinfo=NY)


def test_new_york_fall_back_day_has_25_business_hours() -> None:
    cal = always("America/New_York")
    assert cal.elapsed(datetime(2026, 11, 1, tzinfo=NY), datetime(2026, 11, 2, tzinfo=NY)) == 25 * H


def test_window_across_new_york_gap_loses_the_missing_hour() -> None:
    # Saturday 2026-03-07 is before the change; the Sat window 01:00-04:00 on 2026-03-14 is after it.
    # The change itself is Sunday 03-08, so use a calendar open 01:00-04:00 that day.
    cal = Calendar.model_validate({"time_zone": "America/New_York", "hours": {"sun": ["01:00-04:00"]}})
    day = datetime(2026, 3, 8, 0, 0, tzinfo=NY)
    assert cal.elapsed(day, day + 24 * H) == 2 * H
    # 1h after 01:30 EST is 03:30 EDT: the wall clock jumps, business time does not.
    assert cal.add(datetime(2026, 3, 8, 1, 30, tzinfo=NY), H) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_berlin_fall_back_night_window_is_seven_real_hours() -> None:
    start = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    assert BERLIN_NIGHTS.elapsed(start, datetime(2026, 10, 25, 6, 0, tzinfo=BERLIN)) == 7 * H
    assert BERLIN_NIGHTS.add(start, 7 * H) == datetime(2026, 10, 25, 6, 0, tzinfo=BERLIN)


def test_berlin_spring_forward_night_window_is_five_real_hours() -> None:
    start = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)
    assert BERLIN_NIGHTS.elapsed(start, datetime(2026, 3, 29, 6, 0, tzinfo=BERLIN)) == 5 * H
    # 5h of business time from midnight ends at the 06:00 close, not at 05:00 wall time.
    assert BERLIN_NIGHTS.add(start, 5 * H) == datetime(2026, 3, 29, 6, 0, tzinfo=BERLIN)
    assert BERLIN_NIGHTS.add(start, 5 * H + timedelta(seconds=1)) == datetime(
        2026, 3, 29, 20, 0, 1, tzinfo=BERLIN
    )


# -- windows, 24:00, seconds ------------------------------------------------------------------------


def test_several_windows_per_day_skip_the_lunch_break() -> None:
    monday_11 = datetime(2026, 11, 23, 11, 0, tzinfo=NY)
    assert NEW_YORK_LUNCH.add(monday_11, 2 * H) == datetime(2026, 11, 23, 14, 0, tzinfo=NY)
    assert not NEW_YORK_LUNCH.is_open(datetime(2026, 11, 23, 12, 30, tzinfo=NY))
    assert NEW_YORK_LUNCH.next_open(datetime(2026, 11, 23, 12, 30, tzinfo=NY)) == datetime(
        2026, 11, 23, 13, 0, tzinfo=NY
    )


def test_window_seconds_are_exact() -> None:
    # Monday afternoon window ends 17:30:30; 30 seconds of business time before it spill to Tuesday.
    start = datetime(2026, 11, 23, 17, 30, 0, tzinfo=NY)
    assert NEW_YORK_LUNCH.add(start, timedelta(seconds=30)) == datetime(2026, 11, 23, 17, 30, 30, tzinfo=NY)
    assert NEW_YORK_LUNCH.add(start, timedelta(seconds=31)) == datetime(2026, 11, 24, 8, 0, 1, tzinfo=NY)
    assert NEW_YORK_LUNCH.business_day_length == timedelta(hours=8, minutes=30, seconds=30)


def test_24_00_end_means_midnight() -> None:
    assert PRODUCT.is_open(datetime(2026, 11, 24, 23, 59, 59, tzinfo=SHANGHAI))
    assert not PRODUCT.is_open(datetime(2026, 11, 25, 0, 0, tzinfo=SHANGHAI))
    assert PRODUCT.add(datetime(2026, 11, 24, 23, 0, tzinfo=SHANGHAI), 2 * H) == datetime(
        2026, 11, 25, 10, 0, tzinfo=SHANGHAI
    )
    assert PRODUCT.add(datetime(2026, 11, 24, 9, 0, tzinfo=SHANGHAI), 15 * H) == datetime(
        2026, 11, 25, 0, 0, tzinfo=SHANGHAI
    )


# -- holidays and overrides ---------------------------------------------------------------------------


def test_holidays_are_closed_all_day() -> None:
    sept_30_17 = datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)
    # 1h left on Sep 30, Oct 1-2 holidays, Oct 3-4 weekend, Oct 5 holiday, then Oct 6.
    assert BILLING_2026.add(sept_30_17, 2 * H) == datetime(2026, 10, 6, 10, 0, tzinfo=SHANGHAI)


def test_start_on_a_holiday_waits_for_the_next_open_day() -> None:
    assert BILLING_2026.add(datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI), H) == datetime(
        2026, 10, 6, 10, 0, tzinfo=SHANGHAI
    )
    assert BILLING_2026.next_open(datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI)) == datetime(
        2026, 10, 6, 9, 0, tzinfo=SHANGHAI
    )


def test_recurring_holidays_close_every_year() -> None:
    for year in (2026, 2027, 2031):
        # whatever weekday it falls on, Jan 1 at noon is closed
        assert not BILLING_2026.is_open(datetime(year, 1, 1, 12, 0, tzinfo=SHANGHAI))
    assert BILLING_2026.is_open(datetime(2027, 1, 4, 12, 0, tzinfo=SHANGHAI))  # a Monday


def test_overrides_make_up_day_half_day_and_closed_weekday() -> None:
    assert BILLING_2026.is_open(datetime(2026, 10, 10, 10, 0, tzinfo=SHANGHAI))  # make-up Saturday
    assert BILLING_2026.is_open(datetime(2026, 12, 24, 11, 59, tzinfo=SHANGHAI))  # half day
    assert not BILLING_2026.is_open(datetime(2026, 12, 24, 12, 0, tzinfo=SHANGHAI))
    assert not BILLING_2026.is_open(datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI))  # [] closes a Friday


def test_start_outside_hours_begins_at_the_next_window() -> None:
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    assert BILLING_2026.add(saturday, H) == datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
    assert BILLING_2026.elapsed(saturday, datetime(2026, 11, 29, 23, 0, tzinfo=SHANGHAI)) == timedelta(0)


def test_long_span_of_one_year_of_business_time_round_trips() -> None:
    start = datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI)
    end = BILLING_2026.add(start, timedelta(days=365))
    assert BILLING_2026.elapsed(start, end) == timedelta(days=365)
    # 8760h / 9h a day is 973.3 business days: close to four calendar years.
    assert datetime(2029, 9, 1, tzinfo=UTC) < end < datetime(2030, 3, 1, tzinfo=UTC)


def test_elapsed_is_zero_backwards_and_add_zero_is_identity() -> None:
    at = datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI)
    assert PRODUCT.elapsed(at, at - H) == timedelta(0)
    assert PRODUCT.add(at, timedelta(0)) == at


def test_naive_datetimes_and_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PRODUCT.add(datetime(2026, 11, 24, 12, 0), H)
    with pytest.raises(ValueError, match="negative"):
        PRODUCT.add(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), -H)


# -- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ({"time_zone": "Mars/Olympus", "hours": {"mon": ["09:00-18:00"]}}, "unknown IANA time zone"),
        ({"time_zone": "UTC", "hours": {"mon": ["9:00-18:00"]}}, "is not a window"),
        ({"time_zone": "UTC", "hours": {"mon": ["18:00-09:00"]}}, "ends before it starts"),
        ({"time_zone": "UTC", "hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "overlap"),
        ({"time_zone": "UTC", "hours": {"mon": ["09:00-24:30"]}}, "out of range"),
        ({"time_zone": "UTC", "hours": {"funday": ["09:00-18:00"]}}, "funday"),
        ({"time_zone": "UTC", "hours": {}}, "never open"),
        (
            {"time_zone": "UTC", "hours": {"mon": ["09:00-18:00"]}, "recurring_holidays": ["13-01"]},
            "day of the year",
        ),
        (
            {"time_zone": "UTC", "hours": {"mon": ["09:00-18:00"]}, "business_day": "nine hours"},
            "business_day",
        ),
        ({"time_zone": "UTC", "hours": {"mon": ["09:00-18:00"]}, "opening": "x"}, "opening"),
    ],
)
def test_bad_tables_are_refused_with_the_field(table: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError) as error:
        Calendar.model_validate(table)
    assert fragment in str(error.value)


def test_calendar_round_trips_through_json() -> None:
    again = Calendar.model_validate_json(BILLING_2026.model_dump_json())
    assert again == BILLING_2026
    assert BILLING_2026.model_dump(mode="json")["business_day"] == "9h"


# -- properties -----------------------------------------------------------------------------------------

calendars = st.sampled_from(ALL)
instants = st.datetimes(
    min_value=datetime(2025, 12, 20), max_value=datetime(2027, 1, 10), timezones=st.just(UTC)
)
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))


@given(calendars, instants, amounts)
def test_add_then_elapsed_round_trips(cal: Calendar, start: datetime, amount: timedelta) -> None:
    assert cal.elapsed(start, cal.add(start, amount)) == amount


@given(calendars, instants, amounts, amounts)
def test_add_is_monotonic_in_amount(cal: Calendar, start: datetime, a: timedelta, b: timedelta) -> None:
    low, high = sorted((a, b))
    assert cal.add(start, low) <= cal.add(start, high)


@given(calendars, instants, instants, amounts)
def test_add_is_monotonic_in_start(cal: Calendar, s1: datetime, s2: datetime, amount: timedelta) -> None:
    early, late = sorted((s1, s2))
    assert cal.add(early, amount) <= cal.add(late, amount)


@given(calendars, instants, amounts.filter(lambda a: a > timedelta(0)))
def test_add_never_lands_in_a_closed_instant(cal: Calendar, start: datetime, amount: timedelta) -> None:
    """The result is inside an open window or exactly at the close of one (the deadline is 'by 24:00')."""
    end = cal.add(start, amount)
    assert cal.is_open(end) or cal.is_open(end - timedelta(microseconds=1))


@given(calendars, instants)
def test_next_open_is_open_and_nothing_earlier_is(cal: Calendar, at: datetime) -> None:
    opened = cal.next_open(at)
    assert cal.is_open(opened)
    assert cal.elapsed(at, opened) == timedelta(0)


@settings(max_examples=60, deadline=None)
@given(
    calendars,
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)).map(
        lambda d: d.replace(second=d.second // 30 * 30, microsecond=0, tzinfo=UTC)
    ),
    st.integers(min_value=0, max_value=3 * 24 * 120),
)
def test_add_matches_a_step_by_step_reference(cal: Calendar, start: datetime, steps: int) -> None:
    assert cal.add(start, steps * STEP) == reference_add(cal, start, steps)


@given(calendars, instants)
def test_is_open_matches_the_wall_clock_reference(cal: Calendar, at: datetime) -> None:
    assert cal.is_open(at) == reference_open(cal, at)

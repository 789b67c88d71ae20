"""Calendars used by the calendar tests, and an independent minute-by-minute reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from support.sla_clocks.calendar import WEEKDAYS, Calendar, parse_windows

EVERY_DAY = {d: ["09:00-24:00"] for d in WEEKDAYS}
OFFICE = {d: ["09:00-18:00"] for d in WEEKDAYS[:5]}

PRODUCT = Calendar.model_validate({"time_zone": "Asia/Shanghai", "hours": EVERY_DAY, "business_day": "15h"})
NEW_YORK_LUNCH = Calendar.model_validate(
    {
        "time_zone": "America/New_York",
        "hours": {d: ["08:00-12:00", "13:00-17:30:30"] for d in WEEKDAYS[:5]} | {"sat": ["01:00-04:00"]},
        "business_day": "8h30m30s",
    }
)
BERLIN_NIGHTS = Calendar.model_validate(
    {"time_zone": "Europe/Berlin", "hours": {d: ["00:00-06:00", "20:00-24:00"] for d in WEEKDAYS}}
)
BILLING_2026 = Calendar.model_validate(
    {
        "time_zone": "Asia/Shanghai",
        "hours": OFFICE,
        "holidays": ["2026-10-01", "2026-10-02", "2026-10-05"],
        "recurring_holidays": ["01-01", "12-25"],
        "overrides": {"2026-10-10": ["09:00-18:00"], "2026-12-24": ["09:00-12:00"], "2026-11-27": []},
        "business_day": "9h",
    }
)
ALL = [PRODUCT, NEW_YORK_LUNCH, BERLIN_NIGHTS, BILLING_2026]


def reference_open(calendar: Calendar, at: datetime) -> bool:
    """Open iff the local wall-clock time falls in a window of that local date (no intervals code)."""
    local = at.astimezone(ZoneInfo(calendar.time_zone))
    day = local.date()
    if day in calendar.overrides:
        windows = calendar.overrides[day]
    elif day in calendar.holidays or local.strftime("%m-%d") in calendar.recurring_holidays:
        windows = []
    else:
        windows = calendar.hours.get(WEEKDAYS[day.weekday()], [])
    second = local.hour * 3600 + local.minute * 60 + local.second
    return any(start <= second < end for start, end in parse_windows(windows))


STEP = timedelta(seconds=30)  # every window edge in these calendars is on a 30-second boundary


def reference_add(calendar: Calendar, start: datetime, steps: int) -> datetime:
    """Walk in 30-second steps in UTC, counting open steps (start must be step-aligned)."""
    at = start.astimezone(UTC)
    while steps > 0:
        if reference_open(calendar, at):
            steps -= 1
        at += STEP
    return at

"""Turn a calendar's `holiday_country` into explicit dates from the `holidays` package.

Runs when a policy snapshot is loaded (an activity or the CLI), never in workflow code: a new
version of the package must not change the deadlines of a case that is already running.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import holidays

from support.policies.policy import Policy
from support.sla_clocks.calendar import WEEKDAYS, Calendar


def _working_day_hours(calendar: Calendar) -> list[str]:
    """Hours of a make-up working day: those of the first weekday (Mon-Fri) that is open."""
    for day in WEEKDAYS[:5]:
        if calendar.hours.get(day):
            return list(calendar.hours[day])
    return next(list(w) for d in WEEKDAYS if (w := calendar.hours.get(d)))


def expand_calendar(calendar: Calendar, years: Iterable[int]) -> Calendar:
    """The same calendar with the country's holidays and make-up days written out.

    Dates the file already names (holidays or overrides) keep what the file says.
    """
    if calendar.holiday_country is None:
        return calendar
    try:
        country = holidays.country_holidays(calendar.holiday_country, years=sorted(set(years)))
    except NotImplementedError:
        raise ValueError(f"holiday_country {calendar.holiday_country!r} is not known to `holidays`") from None
    overrides: dict[date, list[str]] = dict(calendar.overrides)
    workday_hours = _working_day_hours(calendar)
    for day in sorted(getattr(country, "weekend_workdays", ())):
        overrides.setdefault(day, workday_hours)
    closed = sorted(set(calendar.holidays) | {d for d in country if d not in overrides})
    return Calendar.model_validate(
        calendar.model_dump() | {"holidays": closed, "overrides": overrides, "holiday_country": None}
    )


def expand_policy(policy: Policy, years: Iterable[int]) -> Policy:
    """The policy with every country calendar expanded for `years` (a snapshot for one case)."""
    wanted = list(years)
    calendars = {name: expand_calendar(cal, wanted) for name, cal in policy.calendars.items()}
    return policy.model_copy(update={"calendars": calendars})


def snapshot_years(opened_year: int) -> range:
    """Years a case's deadlines can reach: the year before (time zones) to two years on."""
    return range(opened_year - 1, opened_year + 3)

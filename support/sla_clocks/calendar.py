"""Business-hours calendars.

Business time is real elapsed time that falls inside open windows. Windows are written in the
calendar's local wall-clock time, so DST moves them in UTC and a window that crosses a DST change
is shorter or longer in real time, as it is for the people working it. All arithmetic walks day
by day, so its cost grows with the calendar days crossed, never with minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from support.policies.durations import Duration

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_WINDOW = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?-(\d{2}):(\d{2})(?::(\d{2}))?$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_DAY = 86400
# A calendar with no open instant for this many consecutive days is treated as never open.
_MAX_CLOSED_DAYS = 3 * 366
_CACHE_LIMIT = 8192

Interval = tuple[datetime, datetime]


def _seconds(hours: str, minutes: str, seconds: str | None) -> int:
    h, m, s = int(hours), int(minutes), int(seconds or 0)
    if m > 59 or s > 59 or h > 24 or (h == 24 and (m or s)):
        raise ValueError("time of day out of range")
    return h * 3600 + m * 60 + s


def parse_windows(windows: list[str]) -> tuple[tuple[int, int], ...]:
    """Parse ["09:00-12:00", "13:00-18:00"] into sorted (start, end) seconds of the day."""
    parsed: list[tuple[int, int]] = []
    for text in windows:
        match = _WINDOW.match(text.strip())
        if not match:
            raise ValueError(
                f"{text!r} is not a window like '09:00-18:00' (seconds optional, end may be 24:00)"
            )
        try:
            start = _seconds(*match.group(1, 2, 3))
            end = _seconds(*match.group(4, 5, 6))
        except ValueError:
            raise ValueError(f"{text!r} has a time of day out of range") from None
        if start >= end:
            raise ValueError(f"{text!r} ends before it starts")
        parsed.append((start, end))
    parsed.sort()
    for (_, end), (start, _) in pairwise(parsed):
        if start < end:
            raise ValueError(f"windows {windows} overlap")
    return tuple(parsed)


def _check_window(text: str) -> str:
    parse_windows([text])
    return text


def _check_day(windows: list[str]) -> list[str]:
    parse_windows(windows)
    return windows


# Validated per window and per day, so an error names e.g. `hours.mon[0]` or `hours.mon`.
DayWindows = Annotated[list[Annotated[str, AfterValidator(_check_window)]], AfterValidator(_check_day)]


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


class Calendar(BaseModel):
    """One `[calendars.NAME]` table of policy.toml, with pure business-time arithmetic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = Field(description="IANA zone the windows are written in, e.g. Asia/Shanghai")
    hours: dict[Weekday, DayWindows] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    recurring_holidays: list[str] = Field(default_factory=list, description="MM-DD, closed every year")
    overrides: dict[date, DayWindows] = Field(default_factory=dict)
    holiday_country: str | None = Field(default=None, description="ISO country whose holidays to add")
    business_day: Duration | None = Field(default=None, description="length of one business day")

    _zone: ZoneInfo = PrivateAttr()
    _weekly: tuple[tuple[tuple[int, int], ...], ...] = PrivateAttr()
    _overrides: dict[date, tuple[tuple[int, int], ...]] = PrivateAttr()
    _closed: frozenset[date] = PrivateAttr()
    _recurring: frozenset[tuple[int, int]] = PrivateAttr()
    _cache: dict[date, tuple[Interval, ...]] = PrivateAttr(default_factory=dict)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("recurring_holidays")
    @classmethod
    def _valid_recurring(cls, value: list[str]) -> list[str]:
        for text in value:
            match = _MONTH_DAY.match(text)
            if not match:
                raise ValueError(f"{text!r} is not MM-DD")
            try:
                date(2000, int(match[1]), int(match[2]))  # a leap year, so 02-29 is allowed
            except ValueError:
                raise ValueError(f"{text!r} is not a day of the year") from None
        return value

    @field_validator("business_day")
    @classmethod
    def _positive_day(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) < value <= timedelta(days=1):
            raise ValueError("business_day must be more than 0s and at most 24h")
        return value

    @model_validator(mode="after")
    def _has_open_hours(self) -> Calendar:
        if not any(self.hours.get(day) for day in WEEKDAYS):
            raise ValueError("hours: the calendar is never open; give at least one weekday a window")
        return self

    def model_post_init(self, __context: object) -> None:
        self._zone = ZoneInfo(self.time_zone)
        self._weekly = tuple(parse_windows(self.hours.get(day, [])) for day in WEEKDAYS)
        self._overrides = {day: parse_windows(w) for day, w in self.overrides.items()}
        self._closed = frozenset(self.holidays)
        self._recurring = frozenset((int(t[:2]), int(t[3:])) for t in self.recurring_holidays)

    def __eq__(self, other: object) -> bool:
        """Equal tables are equal calendars, whatever each has cached."""
        if not isinstance(other, Calendar):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    # -- what a day looks like ------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def business_day_length(self) -> timedelta:
        """The policy's business day, or the longest weekday's open time when not given."""
        if self.business_day is not None:
            return self.business_day
        return timedelta(seconds=max(sum(e - s for s, e in day) for day in self._weekly))

    def windows_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """Open windows (seconds of the local day) on a local date; overrides beat holidays."""
        if day in self._overrides:
            return self._overrides[day]
        if day in self._closed or (day.month, day.day) in self._recurring:
            return ()
        return self._weekly[day.weekday()]

    def _local(self, day: date, second: int) -> datetime:
        if second >= _DAY:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
        hours, rest = divmod(second, 3600)
        return datetime.combine(day, time(hours, rest // 60, rest % 60), tzinfo=self._zone)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """Open intervals of a local date as UTC instants; a window inside a DST gap vanishes."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        found: list[Interval] = []
        for start, end in self.windows_on(day):
            lo = self._local(day, start).astimezone(UTC)
            hi = self._local(day, end).astimezone(UTC)
            if hi <= lo:
                continue
            if found and lo <= found[-1][1]:
                found[-1] = (found[-1][0], max(hi, found[-1][1]))
            else:
                found.append((lo, hi))
        result = tuple(found)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[day] = result
        return result

    def _intervals_from(self, at: datetime) -> Iterator[Interval]:
        """Open intervals that end after `at`, in time order, for as long as the caller wants."""
        day = at.astimezone(self._zone).date() - timedelta(days=1)
        closed_days = 0
        while True:
            intervals = self.intervals_on(day)
            closed_days = 0 if intervals else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(f"calendar has no open hours in {_MAX_CLOSED_DAYS} days after {day}")
            for lo, hi in intervals:
                if hi > at:
                    yield lo, hi
            day += timedelta(days=1)

    # -- the four operations ----------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        _require_aware(at, "at")
        day = at.astimezone(self._zone).date()
        return any(lo <= at < hi for d in (day - timedelta(days=1), day) for lo, hi in self.intervals_on(d))

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, otherwise the start of the next open window (UTC)."""
        _require_aware(at, "at")
        lo, _ = next(self._intervals_from(at))
        return max(lo, at).astimezone(UTC)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of business time has passed since `start` (UTC)."""
        _require_aware(start, "start")
        if amount < timedelta(0):
            raise ValueError(f"amount must not be negative, got {amount}")
        start = start.astimezone(UTC)
        if amount == timedelta(0):
            return start
        remaining = amount
        for lo, hi in self._intervals_from(start):
            begin = max(lo, start)
            available = hi - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals_from never ends")  # pragma: no cover

    def add_each(self, start: datetime, amounts: list[timedelta]) -> list[datetime]:
        """`add(start, amount)` of each amount, in their order, from one walk of the calendar (a
        clock's deadline and its warnings all count from the same start)."""
        _require_aware(start, "start")
        if any(amount < timedelta(0) for amount in amounts):
            raise ValueError(f"amounts must not be negative, got {amounts}")
        start = start.astimezone(UTC)
        found: dict[timedelta, datetime] = {timedelta(0): start}
        wanted = sorted({amount for amount in amounts if amount > timedelta(0)})
        if wanted:
            passed = timedelta(0)  # business time before the interval at hand
            index = 0
            for lo, hi in self._intervals_from(start):
                begin = max(lo, start)
                available = hi - begin
                while index < len(wanted) and wanted[index] - passed <= available:
                    found[wanted[index]] = begin + (wanted[index] - passed)
                    index += 1
                if index == len(wanted):
                    break
                passed += available
        return [found[amount] for amount in amounts]

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; 0 when end <= start."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        total = timedelta(0)
        if end <= start:
            return total
        for lo, hi in self._intervals_from(start):
            if lo >= end:
                break
            total += min(hi, end) - max(lo, start)
        return total

    # -- what the SLA ledger reads ------------------------------------------------------------

    def day_kind(self, day: date) -> Literal["workday", "closed", "holiday", "make_up_workday"]:
        """How a local date stands against the week: a holiday closes a weekday that is normally
        open; a make-up workday opens a day that is normally closed (an override)."""
        weekly = self._weekly[day.weekday()]
        windows = self.windows_on(day)
        if not weekly and windows:
            return "make_up_workday"
        if weekly and not windows:
            return "holiday"
        return "workday" if windows else "closed"

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self._zone).date()

    def open_spans(self, start: datetime, end: datetime) -> list[Interval]:
        """The open intervals between two instants, clipped to them, in time order (UTC): the
        same intervals `elapsed` sums, so their lengths add up to it exactly."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        spans: list[Interval] = []
        if end <= start:
            return spans
        for lo, hi in self._intervals_from(start):
            if lo >= end:
                break
            spans.append((max(lo, start).astimezone(UTC), min(hi, end).astimezone(UTC)))
        return spans

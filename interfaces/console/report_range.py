"""The console's report range: `from` and `to` as dates in the reader's zone (both days whole), read
into the report's window [from 00:00, the day after `to` 00:00) in that zone. A bad range is a
field-level problem (which field, and why) and nothing is counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from support.reporting.reports import MAX_SPAN, ReportWindow

DEFAULT_DAYS = 56  # eight weeks up to today, as the page showed before it had a range


@dataclass(frozen=True)
class ReportRange:
    first: date
    last: date
    window: ReportWindow | None
    problems: dict[str, str] = field(default_factory=dict)  # field -> phrase key


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def report_range(first_text: str | None, last_text: str | None, zone: str, now: datetime) -> ReportRange:
    """The range the reader asked for (empty fields: the eight weeks up to today in their zone)."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    problems: dict[str, str] = {}
    first = last = None
    try:
        last = _day(last_text)
    except ValueError:
        problems["to"] = "range_not_a_date"
    try:
        first = _day(first_text)
    except ValueError:
        problems["from"] = "range_not_a_date"
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if not problems and last < first:
        problems["to"] = "range_to_before_from"
    if not problems and (last - first) + timedelta(days=1) > MAX_SPAN:
        problems["to"] = "range_too_long"
    if problems:
        return ReportRange(first, last, None, problems)
    since = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    try:
        window = ReportWindow(since=since, until=until)
    except ValidationError:
        return ReportRange(first, last, None, {"from": "range_not_a_date"})
    return ReportRange(first, last, window)

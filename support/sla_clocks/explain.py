"""A case's SLA ledger told as a person reads it: each clock's verdict, then where its time went
("52 min used until Fri 18:00, closed until Tue 09:00 (holiday on Mon), paused 3 h 10 min awaiting
the customer's request-1, ..."), in the reader's language and zone.

Pure: the phrase book (`templates/ledger/<language>.toml`, read by the caller) is handed in, so the
same ledger reads the same in every process, and every language has every phrase (a test says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from support.sla_clocks.ledger import AssigneeTime, CaseLedger, ClockLedger, LedgerSegment, SegmentKind

Phrases = Mapping[str, str]

# Every key each phrase book has (tests/workflow/test_sla_ledger_server.py checks the three books).
PHRASES = frozenset(
    {
        "case",
        "first_response",
        "customer_update",
        "obligation",
        "met",
        "breached",
        "breached_open",
        "running",
        "paused",
        "stopped",
        "answered",
        "outstanding",
        "waived",
        "accepted",
        "used",
        "used_by",
        "made_up",
        "closed",
        "closed_holiday",
        "paused_for",
        "paused_plain",
        "severity",
        "by_assignee",
        "nobody",
        "none",
        "hours",
        "minutes",
        "seconds",
        "join",
        "colon",
        "list",
        "at",
        "day",
        "weekdays",
        "policy",
    }
)


def duration(seconds: float, phrases: Phrases) -> str:
    """'3 h 10 min', '45 s': hours and minutes to the nearest minute, seconds only under a minute.
    Rounded, never cut: 59 min 59.4 s is '1 h' (cut, it read '59 min', and the parts of an account
    did not add up to the clock's whole)."""
    total = round(seconds)
    if total < 60:
        return phrases["seconds"].format(n=total)
    hours, minutes = divmod(math.floor(seconds / 60 + 0.5), 60)
    parts = []
    if hours:
        parts.append(phrases["hours"].format(n=hours))
    if minutes or not hours:
        parts.append(phrases["minutes"].format(n=minutes))
    return phrases["join"].join(parts)


def when(at: datetime, zone: ZoneInfo, phrases: Phrases) -> str:
    local = at.astimezone(zone)
    weekday = phrases["weekdays"].split(",")[local.weekday()].strip()
    return phrases["at"].format(weekday=weekday, date=local.strftime("%m-%d"), time=local.strftime("%H:%M"))


def _day(day: date, phrases: Phrases) -> str:
    weekday = phrases["weekdays"].split(",")[day.weekday()].strip()
    return phrases["day"].format(weekday=weekday, date=day.strftime("%m-%d"))


def _holidays(segments: list[LedgerSegment], zone: ZoneInfo) -> list[date]:
    days: list[date] = []
    for segment in segments:
        if segment.kind is SegmentKind.HOLIDAY:
            day = segment.start.astimezone(zone).date()
            while datetime.combine(day, datetime.min.time(), tzinfo=zone) < segment.end:
                if day not in days:
                    days.append(day)
                day += timedelta(days=1)
    return days


def _steps(clock: ClockLedger, zone: ZoneInfo, phrases: Phrases) -> list[str]:
    steps: list[str] = []
    closed: list[LedgerSegment] = []

    def close_stretch() -> None:
        if not closed:
            return
        end = when(closed[-1].end, zone, phrases)
        days = _holidays(closed, ZoneInfo(clock.calendar_time_zone))  # the calendar's own dates
        if days:
            listed = phrases["list"].join(_day(d, phrases) for d in days)
            steps.append(phrases["closed_holiday"].format(end=end, days=listed))
        else:
            steps.append(phrases["closed"].format(end=end))
        closed.clear()

    for segment in clock.segments:
        if segment.kind in (SegmentKind.OUTSIDE_HOURS, SegmentKind.HOLIDAY):
            closed.append(segment)
            continue
        if segment.kind.counts and segment.end - segment.start < timedelta(seconds=1):
            continue  # milliseconds (an action just after another): in the ledger, not worth a word
        close_stretch()
        end = when(segment.end, zone, phrases)
        length = duration((segment.end - segment.start).total_seconds(), phrases)
        if segment.kind is SegmentKind.MAKE_UP_WORKDAY:
            steps.append(phrases["made_up"].format(used=length, end=end))
        elif segment.kind is SegmentKind.RUNNING:
            if segment.assignee:
                steps.append(phrases["used_by"].format(used=length, end=end, assignee=segment.assignee))
            else:
                steps.append(phrases["used"].format(used=length, end=end))
        elif segment.kind is SegmentKind.PAUSED_AWAITING_CUSTOMER:
            if segment.request_id:
                steps.append(phrases["paused_for"].format(length=length, request=segment.request_id, end=end))
            else:
                steps.append(phrases["paused_plain"].format(length=length, end=end))
        elif segment.kind is SegmentKind.SEVERITY_CHANGED:
            steps.append(
                phrases["severity"].format(
                    previous=segment.previous.value if segment.previous else "-",
                    severity=segment.severity.value if segment.severity else "-",
                    at=when(segment.start, zone, phrases),
                )
            )
    close_stretch()
    return steps


def verdict(clock: ClockLedger, phrases: Phrases) -> str:
    used = duration(clock.used_seconds, phrases)
    target = duration(clock.allowed_seconds, phrases)
    if clock.breached_by_seconds is not None:
        key = "breached" if clock.ended_at is not None else "breached_open"
        return phrases[key].format(
            over=duration(clock.breached_by_seconds, phrases), used=used, target=target
        )
    spare = duration(max(clock.allowed_seconds - clock.used_seconds, 0), phrases)
    key = clock.state if clock.state in PHRASES else "stopped"
    if clock.state == "breached":  # breached with no time over: the target moved under it
        key = "breached_open"
    return phrases[key].format(used=used, target=target, spare=spare, over=duration(0, phrases))


def clock_name(clock: ClockLedger, phrases: Phrases) -> str:
    name = phrases[clock.clock].format(ref=clock.ref or "", cycle=clock.cycle + 1)
    return name


def assignees(times: list[AssigneeTime], phrases: Phrases) -> str:
    times = [t for t in times if t.business_seconds >= 1]
    if not times:
        return phrases["none"]
    return phrases["list"].join(
        f"{t.assignee or phrases['nobody']} {duration(t.business_seconds, phrases)}" for t in times
    )


def clock_account(clock: ClockLedger, phrases: Phrases, reader: ZoneInfo, named: bool = True) -> str:
    """One clock's line of the account: its name (unless `named` is false: the console's clock
    bar, which carries the rest as its caption, names the clock in its heading), its verdict, then
    where its time went."""
    steps = _steps(clock, reader, phrases)
    head = verdict(clock, phrases)
    colon = phrases["colon"]  # the full-width colon in Chinese
    if named:
        head = f"{clock_name(clock, phrases)}{colon}{head}"
    return head + (colon + phrases["list"].join(steps) if steps else "")


def explain(ledger: CaseLedger, phrases: Phrases, zone: str | None = None) -> str:
    """The account: a line for the case, one for each clock, and the time per assignee."""
    reader = ZoneInfo(zone or ledger.time_zone)
    lines = [
        phrases["case"].format(
            case=ledger.case_id,
            severity=ledger.severity.value if ledger.severity else "-",
            at=when(ledger.at, reader, phrases),
            zone=reader.key,
        )
    ]
    if ledger.policy_version:
        digest = f" ({ledger.policy_digest[:12]})" if ledger.policy_digest else ""
        lines.append(phrases["policy"].format(version=ledger.policy_version + digest))
    lines += [clock_account(clock, phrases, reader) for clock in ledger.clocks]
    if ledger.by_assignee:
        lines.append(phrases["by_assignee"].format(times=assignees(ledger.by_assignee, phrases)))
    return "\n".join(lines)

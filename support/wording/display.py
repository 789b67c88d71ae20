"""Instants, sentences and ages as people read them (pure): the zone said with the time, one full
stop at the end of a sentence, "22 min ago" rather than "-0h 00m 22s"."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# What already ends a sentence, in any of our languages: a name like "Fabrikam Kft." or an
# engineer's "... from the mailbox." needs no second stop, Latin or Chinese.
SENTENCE_ENDS = (
    ".",
    "!",
    "?",
    "\u3002",
    "\uff01",
    "\uff1f",
    "\u2026",
)  # full-width stop, exclamation and question marks, ellipsis
FULL_STOPS = {"zh-CN": "\u3002"}  # by language (ideographic full stop); "." elsewhere


def local_time(at: datetime, zone: str) -> str:
    """'2026-11-24 23:30:00 CST (Asia/Shanghai)'."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z") + f" ({zone})"


def local_minute(at: datetime, zone: str) -> str:
    """'2026-11-24 23:30 CST (Asia/Shanghai)': a page's times, to the minute, the zone named
    (no seconds, never microseconds)."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") + f" ({zone})"


def end_sentence(text: str, language: str) -> str:
    """`text` ended with one full stop in `language`'s script, unless it already ends a sentence."""
    stripped = text.rstrip()
    if stripped.endswith(SENTENCE_ENDS):
        return stripped
    return stripped + FULL_STOPS.get(language, ".")


def age(seconds: int) -> tuple[int, str]:
    """How long ago, as people round it down: (count, unit), unit 's', 'min', 'h' or 'd'."""
    seconds = max(seconds, 0)
    if seconds < 60:
        return seconds, "s"
    if seconds < 3600:
        return seconds // 60, "min"
    if seconds < 86400:
        return seconds // 3600, "h"
    return seconds // 86400, "d"

"""Instants as people read them: in a named zone, with the zone said."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_time(at: datetime, zone: str) -> str:
    """'2026-11-24 23:30:00 CST (Asia/Shanghai)'."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z") + f" ({zone})"

"""Human duration strings used in policy.toml ("90s", "15m", "1h30m", "9h", "2d").

Policies are edited by people, so durations are written the way people write them; ISO 8601
("PT9H") and plain seconds are accepted too, because that is how snapshots round-trip as JSON.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[dhms]\s*)+$", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """Parse "1h30m"-style text; raise ValueError with the accepted forms on anything else."""
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration; write e.g. '90s', '15m', '1h30m', '9h' or '2d'")
    seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Inverse of parse_duration for whole seconds: 1h30m, 9h, 45s, 0s."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    sign, total = ("-", -total) if total < 0 else ("", total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, str) and _WHOLE.match(value):
        return parse_duration(value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A timedelta field that reads "9h" and writes "9h" back in JSON."""

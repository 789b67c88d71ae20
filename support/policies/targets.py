"""Response targets as policy.toml writes them: "1h" of business time or "3 business days"."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer, model_validator

from support.policies.durations import format_duration, parse_duration
from support.sla_clocks.calendar import Calendar

_BUSINESS_DAYS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*business\s+days?\s*$", re.IGNORECASE)


class Target(BaseModel):
    """Either a fixed amount of business time or a number of the calendar's business days."""

    model_config = ConfigDict(frozen=True)

    business_time: timedelta | None = None
    business_days: Decimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        days = _BUSINESS_DAYS.match(value)
        if days:
            return {"business_days": Decimal(days[1])}
        try:
            return {"business_time": parse_duration(value)}
        except ValueError:
            raise ValueError(
                f"{value!r} is not a target; write e.g. '1h', '30m' or '1 business day', '3 business days'"
            ) from None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.business_time is None) == (self.business_days is None):
            raise ValueError("give either business_time or business_days")
        too_small = (self.business_time is not None and self.business_time <= timedelta(0)) or (
            self.business_days is not None and self.business_days <= 0
        )
        if too_small:
            raise ValueError("a target must be more than zero")
        return self

    @model_serializer
    def _as_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        if self.business_days is not None:
            unit = "business day" if self.business_days == 1 else "business days"
            return f"{self.business_days.normalize():f} {unit}"
        assert self.business_time is not None
        return format_duration(self.business_time)

    def on(self, calendar: Calendar) -> timedelta:
        """The business time this target means on a calendar."""
        if self.business_time is not None:
            return self.business_time
        assert self.business_days is not None
        seconds = Decimal(calendar.business_day_length.total_seconds()) * self.business_days
        return timedelta(seconds=int(seconds))

"""The first-response clock: when it is due, when to warn, and what its verdict is."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from support.calendar import Calendar
from support.targets import Target


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"


class Checkpoint(BaseModel):
    """An instant at which the clock acts: a warning at a fraction, or the breach at 1.0."""

    model_config = ConfigDict(frozen=True)

    fraction: float
    at: datetime

    @property
    def is_breach(self) -> bool:
        return self.fraction >= 1.0

    @property
    def event(self) -> str:
        return "sla_breached" if self.is_breach else f"sla_warning_{round(self.fraction * 100)}"


class ClockPlan(BaseModel):
    """Deadline and checkpoints of one clock, computed once from the case's calendar."""

    model_config = ConfigDict(frozen=True)

    started_at: datetime
    target: Target
    business_time: timedelta
    due: datetime
    checkpoints: list[Checkpoint]


def plan_clock(calendar: Calendar, started_at: datetime, target: Target, warn_at: list[float]) -> ClockPlan:
    """Due instant and warning instants at fractions of *business* time on the calendar."""
    business_time = target.on(calendar)
    checkpoints = [
        Checkpoint(fraction=f, at=calendar.add(started_at, business_time * f)) for f in sorted(warn_at)
    ]
    due = calendar.add(started_at, business_time)
    checkpoints.append(Checkpoint(fraction=1.0, at=due))
    return ClockPlan(
        started_at=started_at, target=target, business_time=business_time, due=due, checkpoints=checkpoints
    )

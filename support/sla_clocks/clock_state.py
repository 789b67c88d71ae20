"""What an SLA clock is in (its state) and the instants it acts at (its checkpoints).

The deadline and the checkpoints themselves are computed in one place: `support.sla_clocks.clocks`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


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

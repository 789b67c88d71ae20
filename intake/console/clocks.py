"""A case's SLA clocks as the case page draws them: business time used against the target, with
the warning points and the pauses marked (all in business time, on the case's calendar)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from support.calendar import Calendar
from support.clocks import SlaClock, used
from support.durations import format_duration

BAR_WIDTH = 600  # SVG user units


@dataclass(frozen=True)
class ClockBar:
    name: str
    state: str
    target: str
    due: datetime | None
    used: str
    used_fraction: float  # may pass 1.0 once breached
    warnings: tuple[float, ...]  # fractions of the target
    pauses: tuple[float, ...]  # where a pause began, as a fraction of the target
    answered_at: datetime | None

    def x(self, fraction: float) -> int:
        """A fraction's x in the bar (a breached clock's bar is drawn full)."""
        return round(min(max(fraction, 0.0), 1.0) * BAR_WIDTH)

    @property
    def used_x(self) -> int:
        return self.x(self.used_fraction)


def clock_bar(clock: SlaClock, calendar: Calendar, warn_at: list[float], now: datetime) -> ClockBar:
    """The bar of one clock at `now`."""
    target = clock.business_time
    spent = used(clock, calendar, now)
    fraction = spent / target if target > timedelta(0) else 1.0
    pauses: list[float] = []
    running = timedelta(0)
    for segment in clock.segments:
        if segment.end is None:
            break
        running += calendar.elapsed(segment.start, segment.end)
        if clock.answered_at is None or segment.end < clock.answered_at:
            pauses.append(running / target if target > timedelta(0) else 1.0)
    return ClockBar(
        name=clock.name.value,
        state=clock.state.value,
        target=clock.target,
        due=clock.due,
        used=format_duration(timedelta(seconds=int(spent.total_seconds()))),
        used_fraction=fraction,
        warnings=tuple(sorted(warn_at)),
        pauses=tuple(pauses),
        answered_at=clock.answered_at,
    )

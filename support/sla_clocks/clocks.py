"""SLA clocks in business time: first response and customer updates.

A clock remembers the periods it was running (its segments). Pausing closes a segment, resuming
opens one, and the deadline is always re-derived from the segments on the case's *current*
calendar and target. So a pause is never lost and a severity change re-plans from the start of
the clock, exactly as the policy says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from support.policies.durations import Duration
from support.policies.targets import Target
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clock_state import Checkpoint, ClockState


class ClockName(StrEnum):
    FIRST_RESPONSE = "first_response"
    CUSTOMER_UPDATE = "customer_update"


class Segment(BaseModel):
    start: datetime
    end: datetime | None = None


# A finished cycle keeps its running periods for the SLA ledger when it has at most this many.
CYCLE_SEGMENTS_KEPT = 50


class CycleResult(BaseModel):
    """The verdict of one finished cycle of a repeating clock (customer updates)."""

    cycle: int
    started_at: datetime
    due: datetime | None
    answered_at: datetime | None
    state: ClockState
    target: str | None = None
    business_time: Duration | None = None
    segments: list[Segment] = Field(
        default_factory=list, description="its running periods (none kept for older cycles)"
    )


class SlaClock(BaseModel):
    name: ClockName
    target: str
    business_time: Duration
    cycle: int = 0
    started_at: datetime
    segments: list[Segment]
    due: datetime | None = Field(description="None while paused")
    checkpoints: list[Checkpoint] = Field(default_factory=list, description="not yet reached, in order")
    state: ClockState = ClockState.RUNNING
    warnings_sent: list[str] = Field(default_factory=list)
    warnings_superseded: list[str] = Field(
        default_factory=list, description="reached when a later point was already due: not sent"
    )
    breached_at: datetime | None = None
    answered_at: datetime | None = None
    answered_by: str | None = None
    business_time_to_answer: Duration | None = None
    history: list[CycleResult] = Field(default_factory=list)

    @property
    def event_prefix(self) -> str:
        return "sla" if self.name is ClockName.FIRST_RESPONSE else "customer_update"

    @property
    def running(self) -> bool:
        return bool(self.segments) and self.segments[-1].end is None and self.answered_at is None


def checkpoint_event(clock: SlaClock, checkpoint: Checkpoint) -> str:
    """'sla_warning_50' / 'sla_breached', 'customer_update_warning_80' / 'customer_update_breached'."""
    if checkpoint.is_breach:
        return f"{clock.event_prefix}_breached"
    return f"{clock.event_prefix}_warning_{round(checkpoint.fraction * 100)}"


def used(clock: SlaClock, calendar: Calendar, now: datetime) -> timedelta:
    """Business time the clock has run in this cycle, up to `now`."""
    return sum((calendar.elapsed(s.start, s.end or now) for s in clock.segments), timedelta(0))


@dataclass(frozen=True, slots=True)
class ClockTerms:
    """What a clock's deadline and warning instants are computed on, as one value: the calendar
    its business time runs on (the severity's) and the fractions of it at which support is warned
    (`[sla] warn_at`). Before, the two travelled apart through every call that plans a clock."""

    calendar: Calendar
    warn_at: tuple[float, ...]


def _plan(clock: SlaClock, terms: ClockTerms) -> SlaClock:
    """Deadline and the checkpoints still to come, from the segments (pure).

    The only place a deadline or a warning instant is computed: starting, resuming and
    retargeting a clock come here, and so does `policy due` (through `start_clock`)."""
    if not clock.running:
        return clock.model_copy(
            update={"due": None if clock.answered_at is None else clock.due, "checkpoints": []}
        )
    calendar, open_start = terms.calendar, clock.segments[-1].start
    before = sum((calendar.elapsed(s.start, s.end) for s in clock.segments[:-1] if s.end), timedelta(0))

    fractions = sorted(terms.warn_at)
    amounts = [max(clock.business_time * f - before, timedelta(0)) for f in [*fractions, 1.0]]
    *warnings, due = calendar.add_each(open_start, amounts)  # one walk for the deadline and warnings
    pending = [Checkpoint(fraction=f, at=at) for f, at in zip(fractions, warnings, strict=True)]
    pending.append(Checkpoint(fraction=1.0, at=due))
    reached = {*clock.warnings_sent, *clock.warnings_superseded}
    pending = [c for c in pending if checkpoint_event(clock, c) not in reached]
    if clock.breached_at is not None:
        pending = [c for c in pending if not c.is_breach]
    return clock.model_copy(update={"due": due, "checkpoints": pending})


def start_clock(name: ClockName, terms: ClockTerms, target: Target, at: datetime, cycle: int = 0) -> SlaClock:
    clock = SlaClock(
        name=name,
        target=str(target),
        business_time=target.on(terms.calendar),
        cycle=cycle,
        started_at=at,
        segments=[Segment(start=at)],
        due=None,
    )
    return _plan(clock, terms)


def pause_clock(clock: SlaClock, at: datetime) -> SlaClock:
    if not clock.running:
        return clock
    segments = [*clock.segments[:-1], clock.segments[-1].model_copy(update={"end": at})]
    state = ClockState.BREACHED if clock.breached_at else ClockState.PAUSED
    return clock.model_copy(update={"segments": segments, "due": None, "checkpoints": [], "state": state})


def resume_clock(clock: SlaClock, terms: ClockTerms, at: datetime) -> SlaClock:
    if clock.running or clock.answered_at is not None:
        return clock
    state = ClockState.BREACHED if clock.breached_at else ClockState.RUNNING
    resumed = clock.model_copy(update={"segments": [*clock.segments, Segment(start=at)], "state": state})
    return _plan(resumed, terms)


def retarget_clock(clock: SlaClock, terms: ClockTerms, target: Target, now: datetime) -> SlaClock:
    """A new severity's target and calendar, planned from the clock's own start (pauses kept).

    When the new deadline is already past, only the breach is left to fire (at once): warnings
    about a deadline that has gone are noise.
    """
    if clock.answered_at is not None:
        return clock  # a clock already answered keeps the verdict it got
    changed = clock.model_copy(update={"target": str(target), "business_time": target.on(terms.calendar)})
    planned = _plan(changed, terms)
    if planned.due is not None and planned.due <= now:
        planned = planned.model_copy(update={"checkpoints": [c for c in planned.checkpoints if c.is_breach]})
    return planned


def superseded(clock: SlaClock, checkpoint: Checkpoint, now: datetime) -> bool:
    """A warning reached late, when a later point of the same clock is already due too (timers
    that fired while the service was down, a burst): its notice would only arrive beside, or
    after, the later one's, so people are told the later one only."""
    return not checkpoint.is_breach and any(
        c.fraction > checkpoint.fraction and c.at <= now for c in clock.checkpoints
    )


def reach_checkpoint(clock: SlaClock, checkpoint: Checkpoint, at: datetime, told: bool = True) -> SlaClock:
    """The clock past `checkpoint`; a warning is remembered as sent, or as superseded (not told)."""
    update: dict[str, object] = {"checkpoints": [c for c in clock.checkpoints if c != checkpoint]}
    event = checkpoint_event(clock, checkpoint)
    if checkpoint.is_breach:
        update |= {"breached_at": at, "state": ClockState.BREACHED}
    elif told:
        update |= {"warnings_sent": [*clock.warnings_sent, event]}
    else:
        update |= {"warnings_superseded": [*clock.warnings_superseded, event]}
    return clock.model_copy(update=update)


def answer_clock(clock: SlaClock, calendar: Calendar, at: datetime, by: str) -> SlaClock:
    """The provider did what the clock asks: met when on time, breached when late."""
    late = clock.breached_at is not None or (clock.due is not None and at > clock.due)
    segments = clock.segments
    if clock.running:
        segments = [*segments[:-1], segments[-1].model_copy(update={"end": at})]
    return clock.model_copy(
        update={
            "segments": segments,
            "answered_at": at,
            "answered_by": by,
            "state": ClockState.BREACHED if late else ClockState.MET,
            "breached_at": clock.breached_at or (clock.due if late else None),
            "business_time_to_answer": sum(
                (calendar.elapsed(s.start, s.end or at) for s in segments), timedelta(0)
            ),
            "checkpoints": [],
        }
    )


def next_cycle(clock: SlaClock, terms: ClockTerms, at: datetime, paused: bool) -> SlaClock:
    """Start the next period of a repeating clock, keeping the verdict of the one that ended."""
    result = CycleResult(
        cycle=clock.cycle,
        started_at=clock.started_at,
        due=clock.due,
        answered_at=clock.answered_at,
        state=clock.state,
        target=clock.target,
        business_time=clock.business_time,
        segments=clock.segments if len(clock.segments) <= CYCLE_SEGMENTS_KEPT else [],
    )
    fresh = start_clock(clock.name, terms, Target.model_validate(clock.target), at, cycle=clock.cycle + 1)
    fresh = fresh.model_copy(update={"history": [*clock.history, result]})
    return pause_clock(fresh, at) if paused else fresh


def stop_clock(clock: SlaClock, at: datetime) -> SlaClock:
    """No more deadlines (case resolved or closed); the running cycle's verdict so far is kept."""
    paused = pause_clock(clock, at)
    state = ClockState.BREACHED if clock.breached_at else ClockState.STOPPED
    return paused.model_copy(update={"state": state})

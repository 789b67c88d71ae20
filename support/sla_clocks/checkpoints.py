"""What happens when an SLA clock reaches a point: a warning at each fraction of the target
(`[sla] warn_at`) to the support side, and at the deadline a breach escalated to the duty
manager. A warning reached when a later point of the same clock is due too is recorded, not sent;
a point acted on late (the service was down) says so."""

from __future__ import annotations

from datetime import datetime

from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.messaging.routing import recipients
from support.policies.durations import format_duration
from support.sla_clocks.clocks import ClockName, SlaClock, checkpoint_event, reach_checkpoint, superseded

# Cases that handled late warnings before this rule sent them all: their replay must too.
SUPERSEDED_WARNINGS_PATCH = "superseded-sla-warnings-not-sent"


def clock_of(case: CaseRecord, name: ClockName) -> SlaClock:
    clock = case.view.first_response if name is ClockName.FIRST_RESPONSE else case.view.customer_update
    assert clock is not None
    return clock


def _set_clock(case: CaseRecord, clock: SlaClock) -> None:
    if clock.name is ClockName.FIRST_RESPONSE:
        case.view.first_response = clock
    else:
        case.view.customer_update = clock


def checkpoint_reached(case: CaseRecord, name: ClockName, now: datetime, decision: Decision) -> None:
    view, policy = case.view, case.rules
    clock = clock_of(case, name)
    checkpoint = clock.checkpoints[0]
    quiet = superseded(clock, checkpoint, now) and case.patched(SUPERSEDED_WARNINGS_PATCH)
    clock = reach_checkpoint(clock, checkpoint, now, told=not quiet)
    _set_clock(case, clock)
    event = checkpoint_event(clock, checkpoint)
    facts = {"clock": name.value, "percent": str(round(checkpoint.fraction * 100))}
    times = {"due": clock.due} if clock.due is not None else {}
    what = "first response" if name is ClockName.FIRST_RESPONSE else "customer update"
    late = now - checkpoint.at
    lateness = ""
    if late > policy.sla.report_late_after:
        # Timers due while the service was down fire when it is back: said, never hidden.
        lateness = f" (acted on {format_duration(late)} after its time {checkpoint.at.isoformat()})"
        facts["late_by_seconds"] = str(int(late.total_seconds()))
        decision.log("warning", "timer handled late", timer=event, late_seconds=int(late.total_seconds()))
    percent = round(checkpoint.fraction * 100)
    if checkpoint.is_breach:
        view.sla_breached = True
        view.record(now, event, f"{what} deadline passed; escalated to the duty manager{lateness}")
        decision.set((CaseAttribute.SLA_BREACHED, True))
        decision.tell(recipients(case, event, facts, times, sequence=clock.cycle))
        decision.log("warning", "SLA breached", clock=name.value, cycle=clock.cycle)
        decision.count("casework_sla_breaches", "SLA clocks that ran out", clock=name.value)
    elif quiet:
        view.record(
            now,
            event,
            f"{percent}% of the {what} business time used{lateness}; not sent: a later point "
            "of this clock was already due",
        )
        decision.count(
            "casework_sla_warnings_superseded",
            "SLA warnings not sent: a later point was due",
            clock=name.value,
            percent=str(percent),
        )
    else:
        view.record(now, event, f"{percent}% of the {what} business time used{lateness}")
        decision.count("casework_sla_warnings", "SLA warnings", clock=name.value, percent=str(percent))
        decision.tell(recipients(case, event, facts, times, sequence=clock.cycle))

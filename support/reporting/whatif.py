"""Policy what-if: every case of a window re-decided under a proposed policy, side by side with what
happened under the policy in force. Pure: nothing is changed or sent.

- A case is re-run through the same machine (`support.case.machine.decide`) from its recorded
  inputs (`support.case.inputs`): the request, the context it opened on (with the proposed policy
  in place of its snapshot), and each event at its instant. Time passes as the workflow lets it:
  before each event, the case wakes at each instant of its agenda (the proposed policy's deadlines,
  warnings, cooperation and survey timers); an event the case would now refuse is left out; after
  the last, time runs on to the report's instant.
- The figures in force are the SLA report's own (`support.reporting.reports.sla_report` over the same rows:
  the closed cases' rows, the running cases as visibility lists them); the proposed ones are the
  same report over the rows the re-runs would have left. A case without complete inputs (archived
  before they were kept, or with more events than kept) counts as it was, in both, and is counted
  in `kept_as_recorded`.
- A case flips when its first-response verdict differs. The ledger segment that made the
  difference is the one of the proposed re-run's first-response ledger in which the earlier of
  the two deadlines fell: the stretch of the clock's time the shorter target cut into.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import get_args

from pydantic import BaseModel, Field

from support.case.actions import Action
from support.case.agenda import agenda, case_done
from support.case.events import Event, TimePassed
from support.case.inputs import ArchivedInputs
from support.case.machine import decide, refusal
from support.case.record import CaseRecord, CaseStart
from support.case.view import CaseView
from support.identity.verification import SealedAttempt
from support.policies.policy import Policy
from support.reporting.closed_case import closed_case_row
from support.reporting.reports import (
    ClosedRow,
    Group,
    OpenCase,
    ReportWindow,
    SlaReport,
    Verdict,
    closed_verdict,
    open_verdict,
    sla_report,
)
from support.sla_clocks.ledger import LedgerSegment, case_ledger

# What the workflow's update validators check before an action reaches the machine.
VALIDATED = (*get_args(Action), SealedAttempt)
MAX_WAKES = 10_000  # a re-run's agenda that never runs out is a bug, not a long case


class PolicyName(BaseModel):
    version: str
    digest: str | None


def _step(case: CaseRecord, event: Event, at: datetime) -> None:
    if decide(case, event, at).wake and not case_done(case.view):
        decide(case, TimePassed(), at)  # the workflow's loop wakes on the change (and ends when done)


def _advance(case: CaseRecord, instant: datetime) -> None:
    """Time passes up to `instant`: the case wakes at each instant of its agenda on the way."""
    for _ in range(MAX_WAKES):
        view = case.view
        if view.severity is None or case.policy is None or case_done(view):
            return
        upcoming = agenda(view, case.calendar, case.rules)
        if not upcoming or upcoming[0].at > instant:
            return
        _step(case, TimePassed(), upcoming[0].at)
    raise RuntimeError(f"{case.view.case_id}: the re-run's agenda never ran out")


def redecide(
    archived: ArchivedInputs, case_id: str, policy: Policy, digest: str | None, until: datetime
) -> CaseRecord:
    """The case as it would be at `until` had it run under `policy` with the same inputs."""
    start = CaseStart(request=archived.request, case_number=archived.case_number, follows=archived.follows)
    case = CaseRecord.begin(start, archived.created_at, case_id)
    case.inputs = None  # a re-run records nothing
    inputs = archived.inputs
    if inputs.opening is None or inputs.opened_on is None:
        return case
    context = inputs.opening.context(policy).model_copy(update={"policy_digest": digest})
    _step(case, context, inputs.opened_on)
    for recorded in inputs.events:
        _advance(case, recorded.at)
        if case_done(case.view):
            break
        event = recorded.event()
        if isinstance(event, VALIDATED) and refusal(case, event, recorded.at) is not None:
            continue  # refused under the proposed policy (say, a reopen after a shorter window)
        _step(case, event, recorded.at)
    _advance(case, until)
    return case


class LiveInputs(BaseModel):
    """A running case's view and recorded inputs (the workflow's `case_inputs` query)."""

    view: CaseView
    inputs: ArchivedInputs | None


class WhatIfCase(BaseModel):
    """One case of the window as the what-if reads it: its row (closed) or its visibility listing
    and live view (running), and its recorded inputs (None: not kept)."""

    case_id: str
    closed: ClosedRow | None = None
    running: OpenCase | None = None
    view: CaseView | None = Field(default=None, description="a running case's view now")
    inputs: ArchivedInputs | None = None


class Flip(BaseModel):
    case_id: str
    tenant_id: str
    severity: str
    category: str
    policy_digest: str | None = Field(description="the version the case ran under")
    in_force: Verdict
    proposed: Verdict
    first_response_at: datetime | None
    due_in_force: datetime | None
    due_proposed: datetime | None
    segment: LedgerSegment | None = Field(
        description="the first-response ledger segment (proposed re-run) in which the earlier deadline fell"
    )


class GroupPair(BaseModel):
    dimension: str
    key: str
    in_force: Group
    proposed: Group


class WhatIfReport(BaseModel):
    since: datetime
    until: datetime
    generated_at: datetime
    tenants: list[str] | None
    proposed_policy: PolicyName
    policies_in_force: list[str] = Field(description="digests of the versions the cases ran under")
    redecided: int = Field(description="cases re-run from their recorded inputs")
    kept_as_recorded: int = Field(description="cases without complete inputs: counted as they were, in both")
    groups: list[GroupPair] = Field(description="total, then each severity and category")
    flips: list[Flip]


def _closed_from(view: CaseView, archived_at: datetime) -> ClosedRow:
    row = closed_case_row(view, archived_at)
    return ClosedRow.from_row(row.model_dump(exclude={"record", "inputs"}))


def _open_from(view: CaseView, listed: OpenCase) -> OpenCase:
    clock = view.first_response
    return listed.model_copy(
        update={
            "severity": view.severity.value if view.severity is not None else listed.severity,
            "status": view.status.value,
            "first_response_due": clock.due if clock is not None else None,
            "sla_breached": view.sla_breached,
        }
    )


def _segment(
    view: CaseView, policy: Policy, zone: str, now: datetime, pivot: datetime | None
) -> LedgerSegment | None:
    if pivot is None:
        return None
    ledger = case_ledger(view, policy, zone, now)
    clock = next((c for c in ledger.clocks if c.clock == "first_response"), None)
    if clock is None:
        return None
    spans = [s for s in clock.segments if s.start <= pivot <= s.end and s.start < s.end]
    return next((s for s in spans if s.kind.counts), spans[0] if spans else None)


class Outcome(BaseModel):
    """One case re-run under the proposed policy: what it counts as there (a closed row or a running
    listing), and the flip when its verdict differs. None of a case: no complete inputs."""

    case_id: str
    closed: ClosedRow | None = None
    running: OpenCase | None = None
    flip: Flip | None = None
    policy_digest: str | None = None


def rerun(
    item: WhatIfCase, proposed_for: Callable[[int], Policy], digest: str | None, now: datetime
) -> Outcome | None:
    """The case re-decided under `proposed_for(year)` (the proposed policy as a case opened that
    year snapshots it); None when its inputs are not complete (it counts as it was)."""
    inputs = item.inputs
    if inputs is None or not inputs.inputs.complete or inputs.inputs.opening is None:
        return None
    if item.closed is None and item.running is None:
        return None
    opened = inputs.inputs.opened_on or inputs.created_at
    policy = proposed_for(opened.year)
    record = redecide(inputs, item.case_id, policy, digest, now)
    view = record.view
    outcome = Outcome(case_id=item.case_id, policy_digest=inputs.inputs.policy_digest)
    if item.closed is not None:
        before: Verdict = closed_verdict(item.closed)
        outcome.closed = _closed_from(view, item.closed.archived_at or now)
        after: Verdict = closed_verdict(outcome.closed)
        due_before, answered = item.closed.first_response_due, item.closed.first_response_at
        severity, category, tenant = (
            item.closed.sla_severity or item.closed.final_severity or "unknown",
            item.closed.category,
            item.closed.tenant_id,
        )
    else:
        assert item.running is not None
        live = item.view
        mine = _open_from(live, item.running) if live is not None else item.running
        before = open_verdict(mine, now)
        outcome.running = _open_from(view, item.running)
        after = open_verdict(outcome.running, now)
        clock = live.first_response if live is not None else None
        due_before = clock.due if clock is not None else item.running.first_response_due
        answered = clock.answered_at if clock is not None else None
        severity, category, tenant = (
            item.running.severity or "unknown",
            item.running.category or "unknown",
            item.running.tenant_id,
        )
    if before == after:
        return outcome
    due_after = view.first_response.due if view.first_response is not None else None
    pivots = [d for d in (due_before, due_after) if d is not None]
    zone = record.tenant.time_zone if record.tenant is not None else "UTC"
    outcome.flip = Flip(
        case_id=item.case_id,
        tenant_id=tenant,
        severity=severity,
        category=category,
        policy_digest=inputs.inputs.policy_digest,
        in_force=before,
        proposed=after,
        first_response_at=answered,
        due_in_force=due_before,
        due_proposed=due_after,
        segment=_segment(view, policy, zone, now, min(pivots) if pivots else None),
    )
    return outcome


def rerun_all(
    cases: Sequence[WhatIfCase], proposed_for: Callable[[int], Policy], digest: str | None, now: datetime
) -> list[Outcome | None]:
    """Each case re-run in turn (what a process of a pool runs over its share)."""
    return [rerun(item, proposed_for, digest, now) for item in cases]


def whatif_report(
    window: ReportWindow,
    cases: Sequence[WhatIfCase],
    proposed_for: Callable[[int], Policy],
    proposed: PolicyName,
    now: datetime,
    tenants: Sequence[str] | None = None,
    outcomes: Sequence[Outcome | None] | None = None,
) -> WhatIfReport:
    """The window's cases under the policy in force and under `proposed_for(year)`, side by side,
    and the cases that flip. `outcomes`: the cases' re-runs when already made (one per case, in
    order: a pool's), else they are made here."""
    if outcomes is None:
        outcomes = rerun_all(cases, proposed_for, proposed.digest, now)
    before_closed: list[ClosedRow] = []
    after_closed: list[ClosedRow] = []
    before_open: list[OpenCase] = []
    after_open: list[OpenCase] = []
    flips: list[Flip] = []
    digests: set[str] = set()
    redecided = kept = 0
    for item, outcome in zip(cases, outcomes, strict=True):
        if item.closed is not None:
            before_closed.append(item.closed)
        elif item.running is not None:
            before_open.append(item.running)
        else:
            continue
        if outcome is None:
            kept += 1
            if item.closed is not None:
                after_closed.append(item.closed)
            elif item.running is not None:
                after_open.append(item.running)
            continue
        redecided += 1
        if outcome.policy_digest:
            digests.add(outcome.policy_digest)
        if outcome.closed is not None:
            after_closed.append(outcome.closed)
        elif outcome.running is not None:
            after_open.append(outcome.running)
        if outcome.flip is not None:
            flips.append(outcome.flip)
    in_force = sla_report(window, before_closed, before_open, now, tenants)
    after_report = sla_report(window, after_closed, after_open, now, tenants)
    return WhatIfReport(
        since=window.since,
        until=window.until,
        generated_at=now,
        tenants=None if tenants is None else sorted(tenants),
        proposed_policy=proposed,
        policies_in_force=sorted(digests),
        redecided=redecided,
        kept_as_recorded=kept,
        groups=pairs(in_force, after_report),
        flips=sorted(flips, key=lambda f: f.case_id),
    )


def _total(report: SlaReport) -> Group:
    return Group(**{name: getattr(report, name) for name in Group.model_fields})


def pairs(in_force: SlaReport, proposed: SlaReport) -> list[GroupPair]:
    out = [GroupPair(dimension="total", key="all", in_force=_total(in_force), proposed=_total(proposed))]
    for dimension, before, after in (
        ("severity", in_force.by_severity, proposed.by_severity),
        ("category", in_force.by_category, proposed.by_category),
    ):
        for key in dict.fromkeys([*before, *after]):
            out.append(
                GroupPair(
                    dimension=dimension,
                    key=key,
                    in_force=before.get(key, Group()),
                    proposed=after.get(key, Group()),
                )
            )
    return out

"""SLA and satisfaction reports over closed and open cases (pure: rows in, a report out).

Rules, each chosen once here:

- A case is counted in the window [since, until) of its opening (`opened_at`), closed or running
  (a running case's row in the console's projection keeps it). A closed case that never opened
  (refused) is no SLA case: it is counted apart, in `not_opened`, by its creation time, and so is a
  running case still awaiting phone verification (listed by visibility, dated by its start).
- The severity of a case is the one whose clock decided its first response: the severity in force
  when the first response was given (a severity change re-plans the first-response clock only until
  it is answered, so a case answered at A and later downgraded to B met or missed an A target).
  Read from the record's severity history; `final_severity` when the case was never answered, when
  the record cannot be read, or when no change came after the first response. A running case is
  reported at its current severity (all that visibility knows).
- First-response verdict of a closed case: `first_response_met` when it was answered; never
  answered, it is `breached` when its deadline passed before it ended (`sla_breached`, or the due
  time before its end) and otherwise `unanswered` (it ended, e.g. closed unresponsive, before its
  deadline; or withdrawn by the customer before it: a withdrawn case has no survey). Of a running
  case: awaiting its first response, `breached` once due (as of the report's `generated_at`) and
  `open` before; answered (in progress, resolved, closed awaiting its
  survey), as its first response was given: `met` or `breached` (`first_response_met`; a case known
  only by visibility, which cannot tell a first-response breach from a later customer-update
  breach, is `met` unless it breached and its first-response deadline has passed).
- `met_ratio` = met / (met + breached): open and unanswered cases have no verdict. Null when there
  is nothing to divide, as every ratio and mean here.
- Open beside closed: each group counts its `closed` cases (ended: their record is archived) and
  its `running` ones, these as `running_answered` (first response given), `open` (awaiting it,
  not yet due) and `running_past_due` (awaiting it after its deadline).
- A reopen is counted in the window in which it happened (its instant), whenever its case was
  opened: a case opened before the window and reopened in it adds its reopen and nothing else. A
  closed row archived before the instants were kept (`reopened_at` null) counts its reopens with
  its opening, as reports did before.
- Percentiles are nearest-rank: the smallest value with at least p % of the values at or below it
  (sorted values v[1..n], p50 = v[ceil(0.5 n)], p90 = v[ceil(0.9 n)]); null with no values. They
  come from every answered case, closed or running (a running case's from its live view).
- Time per assignee (`by_assignee`, operators only): the business seconds each engineer held each
  clock (first response, customer update, obligation), from the SLA ledger: a closed case's as its
  row kept it at the end, a running case's as its ledger reads at `generated_at`; a case with no
  ledger (archived before it was kept, or unreadable) adds nothing. `cases` counts the cases in
  which the engineer held a clock for some business time; nobody's time is `(unassigned)`.
- Satisfaction: a survey is `sent` when a case closed after resolution (a closed case whose
  workflow still waits for the answer is `pending`); `response_rate` = answered / (answered +
  no_answer), the surveys whose wait is over; `mean_score` over the answered ones; `scores` counts
  each score 1-5.
"""

from __future__ import annotations

import csv
import io
import json
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from pydantic import AwareDatetime, BaseModel, Field, ValidationError, field_validator, model_validator

from support.identity.access import Principal
from support.policies.vocabulary import CaseStatus, Category, Severity

SCORES = ("1", "2", "3", "4", "5")
Verdict = Literal["met", "breached", "open", "unanswered"]


def _utc(value: Any) -> Any:
    """Databases that keep no zone (SQLite) give naive times: they were written in UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ClosedRow(BaseModel):
    """A row of `closed_cases`, as reports read it."""

    case_id: str
    tenant_id: str
    category: str
    requested_severity: str | None = None
    initial_severity: str | None = None
    final_severity: str | None = None
    status: str
    created_at: datetime
    opened_at: datetime | None = None
    first_response_due: datetime | None = None
    first_response_at: datetime | None = None
    first_response_met: bool | None = None
    sla_breached: bool = False
    first_response_business_s: float | None = None
    first_response_wall_s: float | None = None
    customer_update_breaches: int = 0
    downgrades: int = 0
    reopens: int = 0
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    survey_outcome: str | None = None
    survey_score: int | None = None
    archived_at: datetime | None = None
    sla_severity: str | None = Field(
        default=None, description="the severity whose clock decided the first response (see module doc)"
    )
    by_assignee: dict[str, dict[str, float]] | None = None
    reopened_at: list[AwareDatetime] | None = Field(default=None, description="None: not kept (older rows)")

    _aware = field_validator(
        "created_at",
        "opened_at",
        "first_response_due",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "archived_at",
        mode="before",
    )(_utc)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ClosedRow:
        """From a database row: its `first_response_severity` column, or on a row archived before
        there was one, its `record` (the final case view as JSON, in clear) gives the severity
        history."""
        names = _CLOSED_FIELDS  # not `cls.model_fields` per key: a property, read for every cell
        fields = {k: v for k, v in row.items() if k in names and v is not None}
        case = cls.model_validate(fields)
        recorded = row.get("first_response_severity")
        case.sla_severity = (
            recorded
            if recorded is not None
            else severity_at_first_response(case.final_severity, case.first_response_at, row.get("record"))
        )
        return case


_CLOSED_FIELDS = frozenset(ClosedRow.model_fields)


class _Change(BaseModel):
    at: datetime
    severity: str
    previous: str | None = None

    _aware = field_validator("at", mode="before")(_utc)


class _Record(BaseModel):
    severity_history: list[_Change] = []


def severity_at_first_response(
    final: str | None, first_response_at: datetime | None, record: str | bytes | None
) -> str | None:
    """The severity in force when the first response was given: the `previous` severity of the
    first change after it (so a history trimmed in its middle still answers), else `final`."""
    if first_response_at is None or not record:
        return final
    try:
        history = _Record.model_validate_json(record).severity_history
    except ValidationError:
        return final
    answered = _utc(first_response_at)
    for change in history:
        if change.at > answered and change.previous is not None:
            return change.previous
    return final


class OpenCase(BaseModel):
    """A running case as Temporal visibility lists it (its search attributes: the report's cases
    that never opened, the what-if's), or as a test states it; a report reads the console's
    projection as `RunningRow`s, the same fields."""

    case_id: str
    tenant_id: str
    category: str | None = None
    severity: str | None = None
    status: str | None = None
    started_at: AwareDatetime
    first_response_due: AwareDatetime | None = None
    sla_breached: bool = False
    first_response_met: bool | None = None  # known once answered (the projection keeps it)
    # From the case's live view or its projected row (absent when it could not be read):
    reopened_at: list[AwareDatetime] = Field(default_factory=list)
    first_response_business_s: float | None = None
    first_response_wall_s: float | None = None


class RunningRow(NamedTuple):
    """A running case's row in the console's projection (adapters.reports_store), as reports count
    it: `OpenCase`'s fields as a plain tuple, built with no validation from typed columns (aware
    instants, checked enums' values). A report reads thousands, and the garbage collector stops
    tracking a tuple of plain values, where each model is four objects it scans until they die."""

    case_id: str
    tenant_id: str
    category: str | None
    severity: str | None
    status: str | None
    started_at: datetime
    first_response_due: datetime | None
    sla_breached: bool
    first_response_met: bool | None
    reopened_at: tuple[datetime, ...]
    first_response_business_s: float | None
    first_response_wall_s: float | None


RunningCase = OpenCase | RunningRow


class Percentiles(BaseModel):
    p50: float | None = None
    p90: float | None = None


class Csat(BaseModel):
    sent: int = 0
    answered: int = 0
    no_answer: int = 0
    pending: int = 0
    response_rate: float | None = Field(default=None, description="answered / (answered + no_answer)")
    mean_score: float | None = None
    scores: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(SCORES, 0))


class Group(BaseModel):
    cases: int = Field(default=0, description="SLA cases opened in the window")
    closed: int = Field(default=0, description="of them, ended (their record is archived)")
    running: int = Field(default=0, description="of them, still running")
    running_answered: int = Field(default=0, description="running, first response given")
    running_past_due: int = Field(default=0, description="running, awaiting an answer past due")
    met: int = 0
    breached: int = 0
    open: int = Field(default=0, description="running, not answered, not yet due")
    unanswered: int = Field(default=0, description="ended before its deadline without a first response")
    met_ratio: float | None = Field(default=None, description="met / (met + breached)")
    first_response_business_s: Percentiles = Field(default_factory=Percentiles)
    first_response_wall_s: Percentiles = Field(default_factory=Percentiles)
    downgrades: int = 0
    reopens: int = Field(default=0, description="reopens that happened in the window")
    customer_update_breaches: int = 0
    csat: Csat = Field(default_factory=Csat)


class AssigneeGroup(BaseModel):
    cases: int = Field(default=0, description="cases in which the engineer held a clock")
    business_s: dict[str, float] = Field(
        default_factory=dict, description="clock (first_response, customer_update, obligation) -> seconds"
    )
    total_s: float = 0.0


def assignee_groups(held: Iterable[Mapping[str, Mapping[str, float]] | None]) -> dict[str, AssigneeGroup]:
    """Each engineer's business time per clock over the cases, most time first."""
    groups: dict[str, AssigneeGroup] = {}
    for case in held:
        for assignee, clocks in (case or {}).items():
            spent = {clock: seconds for clock, seconds in clocks.items() if seconds > 0}
            if not spent:
                continue
            group = groups.setdefault(assignee, AssigneeGroup())
            group.cases += 1
            for clock, seconds in spent.items():
                group.business_s[clock] = group.business_s.get(clock, 0.0) + seconds
                group.total_s += seconds
    return dict(sorted(groups.items(), key=lambda item: (-item[1].total_s, item[0])))


class SlaReport(BaseModel):
    since: datetime
    until: datetime
    generated_at: datetime = Field(description="'now' for running cases: past due means due before it")
    tenants: list[str] | None = Field(description="the tenants reported on; null = every tenant")
    cases: int
    closed: int
    running: int
    running_answered: int
    running_past_due: int
    met: int
    breached: int
    open: int
    unanswered: int
    met_ratio: float | None
    first_response_business_s: Percentiles
    first_response_wall_s: Percentiles
    open_past_due: int = Field(description="running cases awaiting their first response after its deadline")
    not_opened: int = Field(description="refused, or still awaiting phone verification: no SLA case")
    downgrades: int
    reopens: int
    customer_update_breaches: int
    csat: Csat
    by_severity: dict[str, Group]
    by_category: dict[str, Group]
    by_tenant: dict[str, Group]
    by_assignee: dict[str, AssigneeGroup] | None = Field(
        default=None, description="business time each engineer held each clock (operators only)"
    )


MAX_SPAN = timedelta(days=366)
_ZONE_SHIFTS = timedelta(hours=2)  # 366 local days may be a little longer in UTC (summer time)


class ReportWindow(BaseModel):
    """[since, until): aware instants, kept in UTC, between 1970 and 9999, at most `MAX_SPAN`
    apart (a report reads every case of its window)."""

    since: AwareDatetime
    until: AwareDatetime

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        try:
            instant = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None
        if instant.year < 1970:
            raise ValueError("before 1970")
        return instant

    @model_validator(mode="after")
    def _ordered(self) -> ReportWindow:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        if self.until - self.since > MAX_SPAN + _ZONE_SHIFTS:
            raise ValueError(f"the window spans at most {MAX_SPAN.days} days")
        return self

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.since <= at < self.until


def report_tenants(principal: Principal, tenant: str | None) -> tuple[str, ...] | None:
    """What a report for this principal covers: None = every tenant; () = nothing (a tenant the
    key does not act for: an empty report, as `GET /cases` answers an empty list)."""
    scope = principal.tenant_filter
    if tenant is not None:
        return (tenant,) if scope is None or tenant in scope else ()
    return scope


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    if not values:
        return None
    return _nearest(sorted(values), percent)


def _ratio(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


class _Entry(NamedTuple):
    """One SLA case, reduced to what the report counts (a tuple of plain values: a report of 5,000
    open cases makes one per case, which the garbage collector then stops tracking)."""

    severity: str
    category: str
    tenant_id: str
    verdict: Verdict
    counted: bool = True  # False: opened outside the window (its reopens count)
    running: bool = False
    answered: bool = False
    past_due: bool = False
    business_s: float | None = None
    wall_s: float | None = None
    downgrades: int = 0
    reopens: int = 0
    customer_update_breaches: int = 0
    survey: str | None = None
    score: int | None = None
    held: dict[str, dict[str, float]] | None = None


def _closed_verdict(case: ClosedRow) -> Verdict:
    if case.first_response_met is not None:
        return "met" if case.first_response_met else "breached"
    ended = case.closed_at or case.resolved_at or case.archived_at
    due = case.first_response_due
    if case.sla_breached or (due is not None and ended is not None and ended >= due):
        return "breached"
    return "unanswered"


_ANSWERED = {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}


def _open_verdict(case: RunningCase, now: datetime) -> Verdict:
    due = case.first_response_due
    past_due = due is not None and due <= now
    if case.status in _ANSWERED:
        if case.first_response_met is not None:
            return "met" if case.first_response_met else "breached"
        return "breached" if case.sla_breached and past_due else "met"
    if case.sla_breached or past_due:
        return "breached"
    # Ended without a first response before its deadline: neither met nor breached. A withdrawn case
    # is archived as soon as its run ends, and counted from its record (answered or not) from then.
    ended = (CaseStatus.CLOSED_UNRESPONSIVE, CaseStatus.WITHDRAWN)
    return "unanswered" if case.status in ended else "open"


def closed_verdict(case: ClosedRow) -> Verdict:
    """The first-response verdict of a closed case, as the report counts it (the what-if's too)."""
    return _closed_verdict(case)


def open_verdict(case: RunningCase, now: datetime) -> Verdict:
    """The first-response verdict of a running case at `now`, as the report counts it."""
    return _open_verdict(case, now)


def _group(every: list[_Entry]) -> Group:
    """The figures of a group, in one pass over its entries (a report of 5,000 open cases makes
    about fifteen groups of them, and the console one report per week of its chart): each entry
    unpacked once, the counts kept in locals."""
    cases = closed = running = running_answered = past_due = downgrades = reopens = updates = 0
    sent = answered = no_answer = 0
    verdicts = dict.fromkeys(("met", "breached", "open", "unanswered"), 0)
    business: list[float] = []
    wall: list[float] = []
    scores: list[int] = []
    for (
        _severity,
        _category,
        _tenant,
        verdict,
        counted,
        is_running,
        is_answered,
        is_past_due,
        business_s,
        wall_s,
        case_downgrades,
        case_reopens,
        case_updates,
        survey,
        score,
        _held,
    ) in every:
        reopens += case_reopens  # a reopen counts in its window, whenever the case was opened
        if not counted:
            continue
        cases += 1
        if is_running:
            running += 1
            running_answered += is_answered
        else:
            closed += 1
        past_due += is_past_due
        verdicts[verdict] += 1
        if business_s is not None:
            business.append(business_s)
        if wall_s is not None:
            wall.append(wall_s)
        downgrades += case_downgrades
        updates += case_updates
        if survey is None:
            continue
        if survey == "answered":
            sent += 1
            answered += 1
            if score is not None:
                scores.append(score)
        elif survey == "no_answer":
            sent += 1
            no_answer += 1
        elif survey == "pending":
            sent += 1
    counts = dict.fromkeys(SCORES, 0)
    for score in scores:
        if str(score) in counts:
            counts[str(score)] += 1
    csat = Csat(
        sent=sent,
        answered=answered,
        no_answer=no_answer,
        pending=sent - answered - no_answer,
        response_rate=_ratio(answered, answered + no_answer),
        mean_score=round(sum(scores) / len(scores), 2) if scores else None,
        scores=counts,
    )
    met, breached = verdicts["met"], verdicts["breached"]
    return Group(
        cases=cases,
        closed=closed,
        running=running,
        running_answered=running_answered,
        running_past_due=past_due,
        met=met,
        breached=breached,
        open=verdicts["open"],
        unanswered=verdicts["unanswered"],
        met_ratio=_ratio(met, met + breached),
        first_response_business_s=_percentiles(business),
        first_response_wall_s=_percentiles(wall),
        downgrades=downgrades,
        reopens=reopens,
        customer_update_breaches=updates,
        csat=csat,
    )


def _percentiles(values: list[float]) -> Percentiles:
    """p50 and p90 (nearest rank, as `nearest_rank`) from one sort."""
    if not values:
        return Percentiles()
    values.sort()
    return Percentiles(p50=_nearest(values, 50), p90=_nearest(values, 90))


def _nearest(ordered: Sequence[float], percent: float) -> float:
    return ordered[max(math.ceil(percent / 100 * len(ordered)), 1) - 1]


def _grouped(entries: list[_Entry], key: str, always: Iterable[str] = ()) -> dict[str, Group]:
    """One group per value of `key` (those in `always` first, present or not, then the others in
    order): the entries sorted by it (a stable sort: each group keeps their order) and cut."""
    value_of = itemgetter(_Entry._fields.index(key))
    found = {k: list(group) for k, group in groupby(sorted(entries, key=value_of), value_of)}
    buckets: dict[str, list[_Entry]] = {k: found.pop(k, []) for k in always}
    buckets.update(found)
    return {k: _group(group) for k, group in buckets.items()}


def sla_report(
    window: ReportWindow,
    closed: Iterable[ClosedRow],
    running: Iterable[RunningCase],
    now: datetime,
    tenants: Sequence[str] | None = None,
    running_held: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
) -> SlaReport:
    """The report of the cases opened in the window. `closed` and `running` may overlap (a case
    archived while visibility still lists it running): the closed record counts. `running_held`:
    who held each clock of the running cases, by case id (their ledgers at `now`)."""
    return CountedCases(closed, running, now, tenants, running_held).report(window)


class CountedCases:
    """Cases reduced once to what a report counts, in order of opening, so that the report of any
    window is the count of its slice: the console's range and each of its weeks read the same rows
    (`sla_report` is this for one window). What depends on the window is only which cases it
    holds and which of their reopens: a case counts with everything it has in the window of its
    opening, and with its reopens alone in a window that holds only a reopen of it."""

    def __init__(
        self,
        closed: Iterable[ClosedRow],
        running: Iterable[RunningCase],
        now: datetime,
        tenants: Sequence[str] | None = None,
        running_held: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    ) -> None:
        self.now = now
        self.tenants = tenants
        scope = None if tenants is None else set(tenants)
        held = running_held or {}
        seen: set[str] = set()
        starts: list[datetime] = []
        entries: list[_Entry] = []
        not_opened: list[datetime] = []
        # (its entry, the instants of its reopens) of the cases reopened since reopens were kept
        reopened: list[tuple[_Entry, tuple[datetime, ...]]] = []
        for case in closed:
            if case.case_id in seen or (scope is not None and case.tenant_id not in scope):
                continue
            seen.add(case.case_id)
            if case.opened_at is None:
                not_opened.append(case.created_at)
                continue
            legacy = case.reopened_at is None  # archived before the instants were kept: with its opening
            entry = _Entry(
                severity=case.sla_severity or case.final_severity or "unknown",
                category=case.category,
                tenant_id=case.tenant_id,
                verdict=_closed_verdict(case),
                answered=case.first_response_at is not None,
                business_s=case.first_response_business_s,
                wall_s=case.first_response_wall_s,
                downgrades=case.downgrades,
                reopens=case.reopens if legacy else 0,
                customer_update_breaches=case.customer_update_breaches,
                survey=case.survey_outcome,
                score=case.survey_score,
                held=case.by_assignee,
            )
            starts.append(case.opened_at)
            entries.append(entry)
            if case.reopened_at:
                reopened.append((entry, tuple(_utc(at) for at in case.reopened_at)))
        for running_case in running:
            if running_case.case_id in seen or (scope is not None and running_case.tenant_id not in scope):
                continue
            seen.add(running_case.case_id)
            started = running_case.started_at
            if running_case.first_response_due is None or running_case.status in _NOT_OPENED:
                not_opened.append(started)  # its reopens (none can have happened) count nowhere
                continue
            verdict = _open_verdict(running_case, now)
            entry = _Entry(
                severity=running_case.severity or "unknown",
                category=running_case.category or "unknown",
                tenant_id=running_case.tenant_id,
                verdict=verdict,
                running=True,
                answered=running_case.status in _ANSWERED,
                past_due=running_case.status == CaseStatus.AWAITING_FIRST_RESPONSE and verdict == "breached",
                business_s=running_case.first_response_business_s,
                wall_s=running_case.first_response_wall_s,
                survey="pending" if running_case.status == CaseStatus.CLOSED else None,
                held=_held(held.get(running_case.case_id)),
            )
            starts.append(started)
            entries.append(entry)
            if running_case.reopened_at:
                reopened.append((entry, tuple(running_case.reopened_at)))
        # In order of opening (no (start, entry) pairs: one object fewer per case to collect)
        order = sorted(range(len(starts)), key=starts.__getitem__)
        self._starts = [starts[i] for i in order]
        self._entries = [entries[i] for i in order]
        self._not_opened = sorted(not_opened)
        self._reopened = reopened

    def report(self, window: ReportWindow) -> SlaReport:
        """The report of the cases opened (or reopened) in `window`."""
        since, until = window.since, window.until
        entries = self._entries[bisect_left(self._starts, since) : bisect_left(self._starts, until)]
        for entry, instants in self._reopened:
            reopens = sum(since <= at < until for at in instants)
            if not reopens:
                continue
            # Its reopens in the window, apart from the case (counted here or not): with its groups
            entries.append(entry._replace(counted=False, past_due=False, held=None, reopens=reopens))
        not_opened = bisect_left(self._not_opened, until) - bisect_left(self._not_opened, since)
        tenants = self.tenants
        total = _group(entries)
        return SlaReport(
            since=since,
            until=until,
            generated_at=self.now,
            tenants=None if tenants is None else sorted(tenants),
            cases=total.cases,
            closed=total.closed,
            running=total.running,
            running_answered=total.running_answered,
            running_past_due=total.running_past_due,
            met=total.met,
            breached=total.breached,
            open=total.open,
            unanswered=total.unanswered,
            met_ratio=total.met_ratio,
            first_response_business_s=total.first_response_business_s,
            first_response_wall_s=total.first_response_wall_s,
            open_past_due=total.running_past_due,  # awaiting the first response after its deadline
            not_opened=not_opened,
            downgrades=total.downgrades,
            reopens=total.reopens,
            customer_update_breaches=total.customer_update_breaches,
            csat=total.csat,
            by_severity=_grouped(entries, "severity", _SEVERITIES),
            by_category=_grouped(entries, "category", _CATEGORIES),
            by_tenant=_grouped(entries, "tenant_id", tenants or ()),
            by_assignee=assignee_groups(e.held for e in entries if e.counted),
        )


_NOT_OPENED = frozenset({None, CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION, CaseStatus.REFUSED})
_SEVERITIES = tuple(s.value for s in Severity)
_CATEGORIES = tuple(c.value for c in Category)


def _held(held: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]] | None:
    return None if held is None else {name: dict(clocks) for name, clocks in held.items()}


# -- output for people and spreadsheets -------------------------------------------------------------

CSV_COLUMNS = (
    "dimension",
    "key",
    "cases",
    "closed",
    "running",
    "running_answered",
    "running_past_due",
    "met",
    "breached",
    "open",
    "unanswered",
    "met_ratio",
    "first_response_business_p50_s",
    "first_response_business_p90_s",
    "first_response_wall_p50_s",
    "first_response_wall_p90_s",
    "downgrades",
    "reopens",
    "customer_update_breaches",
    "surveys_sent",
    "surveys_answered",
    "surveys_no_answer",
    "surveys_pending",
    "response_rate",
    "mean_score",
    *(f"score_{s}" for s in SCORES),
)


def _rows(report: SlaReport) -> list[tuple[str, str, Group]]:
    total = Group(**{name: getattr(report, name) for name in Group.model_fields})  # the report's own
    rows = [("total", "all", total)]
    for dimension, groups in (
        ("severity", report.by_severity),
        ("category", report.by_category),
        ("tenant", report.by_tenant),
    ):
        rows += [(dimension, key, group) for key, group in groups.items()]
    return rows


def _cells(dimension: str, key: str, g: Group) -> list[Any]:
    c = g.csat
    return [
        dimension, key, g.cases, g.closed, g.running, g.running_answered, g.running_past_due,
        g.met, g.breached, g.open, g.unanswered, g.met_ratio,
        g.first_response_business_s.p50, g.first_response_business_s.p90,
        g.first_response_wall_s.p50, g.first_response_wall_s.p90,
        g.downgrades, g.reopens, g.customer_update_breaches,
        c.sent, c.answered, c.no_answer, c.pending, c.response_rate, c.mean_score,
        *(c.scores.get(s, 0) for s in SCORES),
    ]  # fmt: skip


def report_csv(report: SlaReport) -> str:
    """One line per group (total, each severity, category and tenant); empty cells are nulls."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for dimension, key, group in _rows(report):
        writer.writerow(["" if v is None else v for v in _cells(dimension, key, group)])
    return out.getvalue()


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}h"


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def report_table(report: SlaReport) -> str:
    """The report for a terminal: a line per group, then satisfaction."""
    scope = "every tenant" if report.tenants is None else ", ".join(report.tenants) or "no tenant"
    lines = [
        f"SLA report: cases opened {report.since.isoformat()} .. {report.until.isoformat()} ({scope})",
        f"as of {report.generated_at.isoformat()}; open past due: {report.open_past_due}; "
        f"not opened: {report.not_opened}",
        "",
    ]
    header = ("group", "cases", "closed", "running", "answ.", "past due",
              "met", "breached", "open", "unansw.", "met %", "p50 bus.", "p90 bus.",
              "downgr.", "reopens", "upd. br.", "surveys", "answered", "mean")  # fmt: skip
    table: list[tuple[str, ...]] = [header]
    for dimension, key, g in _rows(report):
        table.append(
            (
                "total" if dimension == "total" else f"{dimension} {key}",
                *(str(v) for v in (g.cases, g.closed, g.running, g.running_answered, g.running_past_due)),
                *(str(v) for v in (g.met, g.breached, g.open, g.unanswered)),
                _percent(g.met_ratio),
                _hours(g.first_response_business_s.p50),
                _hours(g.first_response_business_s.p90),
                *(str(v) for v in (g.downgrades, g.reopens, g.customer_update_breaches)),
                str(g.csat.sent),
                str(g.csat.answered),
                "-" if g.csat.mean_score is None else f"{g.csat.mean_score:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines += assignee_lines(report.by_assignee)
    c = report.csat
    lines += [
        "",
        f"satisfaction: {c.sent} sent, {c.answered} answered, {c.no_answer} no answer, {c.pending} pending; "
        f"response rate {_percent(c.response_rate)}, mean score "
        f"{'-' if c.mean_score is None else f'{c.mean_score:.2f}'}; "
        "scores " + " ".join(f"{s}:{c.scores.get(s, 0)}" for s in SCORES),
    ]
    return "\n".join(lines)


_CLOCKS = ("first_response", "customer_update", "obligation")


def assignee_lines(groups: Mapping[str, AssigneeGroup] | None) -> list[str]:
    """Business hours each engineer held each clock, for a terminal (nothing when not reported)."""
    if not groups:
        return []
    table: list[tuple[str, ...]] = [("assignee", "cases", "first resp.", "updates", "obligations", "total")]
    for name, g in groups.items():
        table.append(
            (name, str(g.cases), *(_hours(g.business_s.get(clock)) for clock in _CLOCKS), _hours(g.total_s))
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["", "business time held, by assignee:"] + [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    ]


def report_json(report: SlaReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2)

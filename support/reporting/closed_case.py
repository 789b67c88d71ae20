"""The row a case leaves in `closed_cases` when it ends: what reports count, derived from its final view.

Pure: the final `CaseView` (and the instant it is archived) in, a `ClosedCase` out. Field by field
it is the table's columns (adapters.schema.closed_cases), so reports never open the JSON record.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from support.case.inputs import ArchivedInputs
from support.case.view import CaseView
from support.policies.policy import Policy
from support.sla_clocks.clock_state import ClockState
from support.sla_clocks.ledger import CaseLedger

AssigneeClocks = dict[str, dict[str, float]]
"""Business seconds each engineer held each clock: {assignee: {clock: seconds}}; nobody's time
under `UNASSIGNED`."""

UNASSIGNED = "(unassigned)"


class CaseArchive(CaseView):
    """What the archive activity is handed: the final view, plus what only the case holds (its
    policy snapshot and the tenant's zone, so the row can keep the SLA ledger's time per assignee).
    A `CaseView` on the wire: an activity typed `CaseView` (an older worker, a test double) reads
    the view and ignores the rest, and the workflow's commands are the same as before."""

    sla_policy: Policy | None = None
    tenant_time_zone: str | None = None
    inputs: ArchivedInputs | None = None


class ClosedCase(BaseModel):
    """One ended case. Times are aware; `record` is the whole final view as JSON.

    The first response was *breached* when `first_response_met` is False (answered late), or when
    it is None (never answered) and `sla_breached` is True: a case whose first response was never
    given has no customer-update clock, so its only breach is the first response's.
    """

    case_id: str
    tenant_id: str
    category: str
    requested_severity: str
    initial_severity: str | None = Field(description="granted at opening; None for a refused case")
    final_severity: str | None
    status: str = Field(description="closed, closed_unresponsive, refused, ...")
    created_at: AwareDatetime
    opened_at: AwareDatetime | None = Field(description="None when the case never opened (refused)")
    first_response_due: AwareDatetime | None = Field(
        description="the deadline the first response was given against; None when it was never given "
        "(a clock stopped unanswered keeps no deadline) or the case never opened"
    )
    first_response_at: AwareDatetime | None
    first_response_met: bool | None = Field(description="None when the first response was never given")
    sla_breached: bool = Field(description="any SLA clock of the case ran out (first response, updates)")
    first_response_business_s: float | None = Field(description="business time to first response")
    first_response_wall_s: float | None = Field(description="wall-clock time from opening to first response")
    customer_update_breaches: int = Field(
        description="customer-update cycles breached, among those the case kept "
        "(its view keeps the most recent ones; `customer_update_cycles_omitted` in the record)"
    )
    downgrades: int = Field(
        description="severity lowered for lack of cooperation, among the changes the case kept "
        "(the opening one and the most recent ones; `severity_history_omitted` in the record)"
    )
    reopens: int
    resolved_at: AwareDatetime | None
    closed_at: AwareDatetime | None = Field(description="None for a refused case, which never opened")
    survey_outcome: str | None = Field(description="pending, answered or no_answer; None when none was sent")
    survey_score: int | None
    record: str = Field(description="the final CaseView as JSON")
    archived_at: AwareDatetime
    first_response_severity: str | None = Field(
        default=None,
        description="the severity whose clock decided the first response: in force when it was given "
        "(the `previous` of the first severity change after it), else the final one",
    )
    policy_digest: str | None = Field(default=None, description="the policy version it opened under")
    inputs: str | None = Field(
        default=None,
        description="what the case's machine saw (support.case.inputs.ArchivedInputs as JSON), for the "
        "what-if; None when the case was archived without them",
    )
    by_assignee: AssigneeClocks | None = Field(
        default=None,
        description="business seconds each engineer held each clock (from the SLA ledger); None when "
        "the case was archived without its policy snapshot",
    )
    reopened_at: list[AwareDatetime] | None = Field(
        default=None, description="when each reopen happened (those its timeline kept), for reports"
    )


def _customer_update_breaches(view: CaseView) -> int:
    clock = view.customer_update
    if clock is None:
        return view.customer_update_breaches_omitted
    finished = sum(cycle.state is ClockState.BREACHED for cycle in clock.history)
    return view.customer_update_breaches_omitted + finished + (clock.state is ClockState.BREACHED)


def _downgrades(view: CaseView) -> int:
    """The cooperation downgrades, including those among severity changes no longer listed."""
    return view.downgrades_omitted + sum(change.is_downgrade for change in view.severity_history)


def _severity_at_first_response(view: CaseView, answered_at: datetime | None) -> str | None:
    """As `support.reporting.reports.severity_at_first_response` reads it from a record: the `previous`
    severity of the first change after the first response, else the final severity."""
    final = view.severity.value if view.severity is not None else None
    if answered_at is None:
        return final
    for change in view.severity_history:
        if change.at > answered_at and change.previous is not None:
            return change.previous.value
    return final


_NOT_THE_VIEW = set(CaseArchive.model_fields) - set(CaseView.model_fields)


def assignee_clocks(ledger: CaseLedger) -> AssigneeClocks:
    """Who held each clock, summed over its cycles: the report's `by_assignee` adds these up."""
    held: AssigneeClocks = {}
    for clock in ledger.clocks:
        for time in clock.by_assignee:
            clocks = held.setdefault(time.assignee or UNASSIGNED, {})
            clocks[clock.clock] = clocks.get(clock.clock, 0.0) + time.business_seconds
    return held


def reopen_instants(view: CaseView) -> list[datetime]:
    """When the case was reopened, as its timeline kept it (a reopen trimmed from a long timeline
    is missing here, and counted by `reopens` only)."""
    return [entry.at for entry in view.timeline if entry.kind == "reopened"]


def closed_case_row(view: CaseView, archived_at: datetime, ledger: CaseLedger | None = None) -> ClosedCase:
    """The `closed_cases` row of a case's final view (and its ledger at the end, when known)."""
    clock = view.first_response
    answered_at = clock.answered_at if clock is not None else None
    answered = clock is not None and answered_at is not None
    business = clock.business_time_to_answer if clock is not None and answered else None
    started = view.opened_at or (clock.started_at if clock is not None else None)
    survey = view.survey
    return ClosedCase(
        case_id=view.case_id,
        tenant_id=view.tenant_id,
        category=view.category.value,
        requested_severity=view.requested_severity.value,
        initial_severity=view.severity_history[0].severity.value if view.severity_history else None,
        final_severity=view.severity.value if view.severity is not None else None,
        status=view.status.value,
        created_at=view.created_at,
        opened_at=view.opened_at,
        first_response_due=clock.due if clock is not None else None,
        first_response_at=answered_at,
        first_response_met=(clock.state is ClockState.MET) if clock is not None and answered else None,
        sla_breached=view.sla_breached,
        first_response_business_s=business.total_seconds() if business is not None else None,
        first_response_wall_s=(
            (answered_at - started).total_seconds()
            if answered_at is not None and started is not None
            else None
        ),
        customer_update_breaches=_customer_update_breaches(view),
        downgrades=_downgrades(view),
        reopens=view.reopened_count,
        reopened_at=reopen_instants(view),
        resolved_at=view.resolved_at,
        closed_at=view.closed_at,
        survey_outcome=survey.outcome.value if survey is not None else None,
        survey_score=survey.score if survey is not None else None,
        record=view.model_dump_json(exclude=_NOT_THE_VIEW),
        archived_at=archived_at,
        first_response_severity=_severity_at_first_response(view, answered_at),
        by_assignee=assignee_clocks(ledger) if ledger is not None else None,
        policy_digest=view.policy_digest,
        inputs=view.inputs.model_dump_json()
        if isinstance(view, CaseArchive) and view.inputs is not None
        else None,
    )

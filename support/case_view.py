"""The case as people read it: status, severity history, clocks and timeline.

The workflow keeps exactly this model as its state, so the `view` query, the workflow result and
the archived record are the same thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field

from support.clocks import SlaClock
from support.cooperation import CustomerRequest
from support.notifications import FailedNotification
from support.request import CaseRequest
from support.sla import ClockState
from support.vocabulary import CaseStatus, Category, Severity


class TimelineEntry(BaseModel):
    at: datetime
    actor: str = Field(description="'system', 'customer' or the engineer's name")
    kind: str = Field(description="machine-readable event, e.g. opened, severity_capped, sla_warning_50")
    message: str


class SeverityChange(BaseModel):
    at: datetime
    severity: Severity
    previous: Severity | None
    actor: str
    reason: str


class Refusal(BaseModel):
    """Why a request did not become a case: `code` for machines, `message` for the requester."""

    code: str
    message: str
    referral_partner: str | None = None
    referral_contact: str | None = None


class VerificationView(BaseModel):
    """Phone verification as the case shows it: never the code, only where it went (masked)."""

    sent_to: str
    issued_at: datetime
    expires_at: datetime
    attempts_used: int = 0
    max_attempts: int
    outcome: str = "pending"


class IncidentLink(BaseModel):
    incident_id: str
    service: str
    title: str


class ClockPause(BaseModel):
    """Who stopped the provider's update clock to wait for the customer, and who started it again."""

    paused_at: datetime
    paused_by: str
    reason: str
    resumed_at: datetime | None = None
    resumed_by: str | None = None


class SurveyOutcome(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"


class Survey(BaseModel):
    sent_at: datetime
    reminder_at: datetime | None
    expires_at: datetime
    reminded_at: datetime | None = None
    outcome: SurveyOutcome = SurveyOutcome.PENDING
    answered_at: datetime | None = None
    score: int | None = None
    comment: str | None = None


class ClockResult(BaseModel):
    clock: str
    cycle: int
    state: ClockState
    due: datetime | None
    answered_at: datetime | None


class CaseView(BaseModel):
    case_id: str
    request_id: str
    status: CaseStatus = CaseStatus.NEW
    tenant_id: str
    tenant_name: str | None = None
    category: Category
    requested_severity: Severity
    severity: Severity | None = None
    title: str
    channel: str
    language: str
    policy_version: str | None = None
    calendar: str | None = None
    time_zone: str | None = Field(default=None, description="zone of the case's calendar, for display")
    created_at: datetime
    opened_at: datetime | None = None
    incident: IncidentLink | None = None
    verification: VerificationView | None = None
    first_response: SlaClock | None = None
    customer_update: SlaClock | None = None
    sla_breached: bool = False
    severity_history: list[SeverityChange] = Field(default_factory=list)
    customer_requests: list[CustomerRequest] = Field(default_factory=list)
    pauses: list[ClockPause] = Field(default_factory=list)
    failed_notifications: list[FailedNotification] = Field(
        default_factory=list, description="notifications no route could deliver; also alerted to operators"
    )
    assigned_engineer: str | None = None
    last_activity_at: datetime | None = None
    follow_ups_sent: int = 0
    refusal: Refusal | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_summary: str | None = None
    reopen_until: datetime | None = None
    reopened_count: int = 0
    closed_at: datetime | None = None
    survey: Survey | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sla_results(self) -> list[ClockResult]:
        """Verdict of every clock and every finished customer-update cycle, for reports."""
        results: list[ClockResult] = []
        if self.first_response is not None:
            fr = self.first_response
            results.append(
                ClockResult(clock=fr.name, cycle=0, state=fr.state, due=fr.due, answered_at=fr.answered_at)
            )
        if self.customer_update is not None:
            cu = self.customer_update
            results += [
                ClockResult(clock=cu.name, cycle=h.cycle, state=h.state, due=h.due, answered_at=h.answered_at)
                for h in cu.history
            ]
            results.append(
                ClockResult(clock=cu.name, cycle=cu.cycle, state=cu.state, due=cu.due, answered_at=None)
            )
        return results

    @classmethod
    def for_request(cls, request: CaseRequest, now: datetime, case_id: str | None = None) -> CaseView:
        """A new case's view; `case_id` is the workflow's own id (cases opened before ids carried
        the tenant keep theirs)."""
        return cls(
            case_id=case_id or request.case_id,
            request_id=request.request_id,
            tenant_id=request.tenant_id,
            category=request.category,
            requested_severity=request.severity,
            title=request.title,
            channel=request.channel.value,
            language=request.language,
            created_at=now,
        )

    def record(self, at: datetime, kind: str, message: str, actor: str = "system") -> None:
        self.timeline.append(TimelineEntry(at=at, actor=actor, kind=kind, message=message))


def expected_wait(due: datetime, now: datetime) -> timedelta:
    """Wall-clock time the customer should expect to wait for the first response."""
    return max(due - now, timedelta(0))

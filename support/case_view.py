"""The case as people read it: status, severity history, clocks and timeline.

The workflow keeps exactly this model as its state, so the `view` query, the workflow result and
the archived record are the same thing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from support.durations import Duration
from support.request import CaseRequest
from support.sla import Checkpoint, ClockState
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
    code: str
    message: str


class FirstResponseClock(BaseModel):
    target: str
    business_time: Duration
    due: datetime
    checkpoints: list[Checkpoint]
    state: ClockState = ClockState.RUNNING
    warnings_sent: list[str] = Field(default_factory=list)
    breached_at: datetime | None = None
    responded_at: datetime | None = None
    responded_by: str | None = None
    business_time_to_response: Duration | None = None


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
    first_response: FirstResponseClock | None = None
    sla_breached: bool = False
    severity_history: list[SeverityChange] = Field(default_factory=list)
    refusal: Refusal | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_summary: str | None = None
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    timeline: list[TimelineEntry] = Field(default_factory=list)

    @classmethod
    def for_request(cls, request: CaseRequest, now: datetime) -> CaseView:
        return cls(
            case_id=request.case_id,
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

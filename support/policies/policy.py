"""The support policy as data (policy.toml), validated into one immutable snapshot.

A case stores the snapshot it was opened with, so editing the policy changes new cases only and
replaying an old case gives the same answers.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from support.messaging.notifications import ALL_TEMPLATES, Audience
from support.policies.durations import Duration
from support.policies.targets import Target
from support.policies.vocabulary import Agreement, Category, Severity
from support.sla_clocks.calendar import Calendar
from support.wording.names import SUPPORT_NAMES


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the table and field."""


class SeverityRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    meaning: str = ""
    first_response: Target
    calendar: str
    requires_agreement: Agreement | None = None
    customer_update: Target = Field(
        description="update the customer at least this often after the first response"
    )
    idle_follow_up: Target = Field(description="nudge the assigned engineer after this long without activity")
    cooperation_due: Target = Field(description="the 'reasonable time' the customer has for each request")
    obligations: list[str] = Field(default_factory=list, description="what the customer owes from the start")


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_severity: Severity
    calendar: str | None = Field(default=None, description="overrides the severity's calendar")
    time_zone: Literal["calendar", "tenant"] = Field(
        default="calendar", description="'tenant': the calendar's hours are in the tenant's own zone"
    )


def _fractions(value: list[float]) -> list[float]:
    if any(not 0 < f < 1 for f in value):
        raise ValueError("each entry is a fraction of the clock's business time between 0 and 1, e.g. 0.5")
    return sorted(set(value))


Fractions = Annotated[list[float], AfterValidator(_fractions)]
"""Points in a clock's business time, e.g. warnings at [0.5, 0.8]; sorted, each in (0, 1)."""


class SlaRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warn_at: Fractions = Field(default_factory=lambda: [0.5, 0.8])
    report_late_after: Duration = Field(
        default=timedelta(minutes=1), description="a timer acted on later than this is reported as late"
    )


class CooperationRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reminders_at: Fractions = Field(default_factory=lambda: [0.5, 0.75])


class ResolutionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reopen_window: Duration = Field(
        default=timedelta(days=7), description="the customer may reopen this long"
    )
    reopen_on_reply: bool = Field(
        default=True, description="a customer's reply (email or portal comment) within the window reopens"
    )


class SurveyRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    wait: Duration = Field(default=timedelta(days=7), description="stop waiting for an answer after this")
    reminder_after: Duration | None = Field(
        default=timedelta(days=3), description="one reminder, if unanswered"
    )

    @model_validator(mode="after")
    def _reminder_before_end(self) -> SurveyRule:
        if self.reminder_after is not None and self.reminder_after >= self.wait:
            raise ValueError("reminder_after must be shorter than wait")
        return self


class VerificationRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=5, ge=1, le=20)
    expires_after: Duration = Field(default=timedelta(minutes=10))


# Events added after policies were first snapshotted into cases (issues 15, 23): a running case's
# snapshot without a line for one routes it so (policy.toml names them like every other event).
LATER_EVENTS: dict[str, list[Audience]] = {
    "assigned": [Audience.ENGINEER],
    "customer_replied": [Audience.ENGINEER],
    "withdrawn": [Audience.CUSTOMER, Audience.ENGINEER],
    "obligation_asked_again": [Audience.CUSTOMER],  # issue 23
    "notification_failed": [Audience.ENGINEER],  # issue 28
}


class RoutingRule(BaseModel):
    """Who is told of what. Addresses and webhook URLs are deployment settings, not policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    support_time_zone: str = "Asia/Shanghai"
    support_language: str = "en"
    account_manager_severities: list[Severity] = Field(default_factory=lambda: [Severity.A])
    events: dict[str, list[Audience]] = Field(default_factory=dict)
    support_name: dict[str, str] = Field(
        default_factory=lambda: dict(SUPPORT_NAMES),
        description="what customers read for staff without a display name (staff.toml), by language",
    )

    @model_validator(mode="after")
    def _every_event_routed(self) -> RoutingRule:
        unknown = sorted(set(self.events) - ALL_TEMPLATES)
        if unknown:
            raise ValueError(f"events: unknown event(s) {', '.join(unknown)}")
        missing = sorted(
            t
            for t in ALL_TEMPLATES - LATER_EVENTS.keys()
            if t != "verification_code" and not self.events.get(t)
        )
        if missing:
            raise ValueError(f"events: no audience for {', '.join(missing)}; every event must reach someone")
        return self

    def audiences(self, template: str, severity: Severity | None) -> list[Audience]:
        return [
            a
            for a in self.events.get(template, LATER_EVENTS.get(template, []))
            if a is not Audience.ACCOUNT_MANAGER or severity in self.account_manager_severities
        ]


class DeliveryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retry_for: Duration = Field(
        default=timedelta(days=2), description="keep retrying a notification this long"
    )
    max_interval: Duration = Field(default=timedelta(minutes=10), description="longest wait between retries")


class HistoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    continue_as_new_after_events: int = Field(default=5000, ge=20, le=40_000)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    severities: dict[Severity, SeverityRule]
    categories: dict[Category, CategoryRule]
    calendars: dict[str, Calendar]
    obligations: dict[str, str] = Field(
        default_factory=dict, description="name -> what the customer provides"
    )
    sla: SlaRule = Field(default_factory=SlaRule)
    cooperation: CooperationRule = Field(default_factory=CooperationRule)
    resolution: ResolutionRule = Field(default_factory=ResolutionRule)
    survey: SurveyRule = Field(default_factory=SurveyRule)
    verification: VerificationRule = Field(default_factory=VerificationRule)
    routing: RoutingRule
    delivery: DeliveryRule = Field(default_factory=DeliveryRule)
    history: HistoryRule = Field(default_factory=HistoryRule)

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = [s.value for s in Severity if s not in self.severities]
        if missing:
            raise ValueError(f"severities: missing {', '.join(missing)}")
        missing = [c.value for c in Category if c not in self.categories]
        if missing:
            raise ValueError(f"categories: missing {', '.join(missing)}")
        for table, name in [(f"severities.{s.value}", r.calendar) for s, r in self.severities.items()] + [
            (f"categories.{c.value}", r.calendar) for c, r in self.categories.items() if r.calendar
        ]:
            if name not in self.calendars:
                raise ValueError(f"[{table}] calendar: no [calendars.{name}] table")
        for severity, rule in self.severities.items():
            for name in rule.obligations:
                if name not in self.obligations:
                    raise ValueError(
                        f"[severities.{severity.value}] obligations: {name!r} is not in [obligations]"
                    )
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    """('calendars', 'billing', 'hours', 'mon', 0) -> "[calendars.billing] hours.mon[0]"."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("severities", "categories", "calendars") and len(parts) >= 2:
        table, rest = f"[{parts[0]}.{parts[1]}]", parts[2:]
    elif parts and parts[0] in (
        "sla",
        "cooperation",
        "resolution",
        "survey",
        "verification",
        "history",
        "obligations",
    ):
        table, rest = f"[{parts[0]}]", parts[1:]
    else:
        table, rest = "", parts
    field = ""
    for part in rest:
        field += f"[{part}]" if part.isdigit() else (f".{part}" if field else part)
    return " ".join(p for p in (table, field) if p)


def describe_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        where = _location(tuple(item["loc"]))
        lines.append(f"{source}: {where}: {message}" if where else f"{source}: {message}")
    return "\n".join(lines)


def policy_from_dict(data: dict[str, Any], source: str = "policy") -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(describe_errors(error, source)) from None


def parse_policy(text: str, source: str = "policy.toml") -> Policy:
    """Policy from TOML text; raises PolicyError naming the table and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: not valid TOML: {error}") from None
    return policy_from_dict(data, source)

"""Which severity a case gets and on which calendar its clocks run (pure rules)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from support.policies.policy import Policy
from support.policies.vocabulary import Agreement, Category, Severity
from support.sla_clocks.calendar import Calendar
from support.wording.reasons import Reason


class SeverityCap(BaseModel):
    """Why a requested severity was lowered: `code` and `params` for machines and for messages
    in the reader's language (`support.wording.reasons`), `message` in English for the timeline."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    params: dict[str, str] = {}

    @property
    def reason(self) -> Reason:
        return Reason(code=self.code, params=self.params)


class SeverityDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    requested: Severity
    granted: Severity
    caps: list[SeverityCap] = []


def decide_severity(
    policy: Policy, category: Category, requested: Severity, agreement: Agreement
) -> SeverityDecision:
    """Cap the requested severity by the category and by the tenant's support agreement."""
    granted = requested
    caps: list[SeverityCap] = []
    category_cap = policy.categories[category].max_severity
    if granted.rank > category_cap.rank:
        granted = category_cap
        caps.append(
            SeverityCap(
                code="category_cap",
                message=f"{category.value} cases are at most severity {category_cap.value}",
                params={"category": category.value, "severity": category_cap.value},
            )
        )
    while (needed := policy.severities[granted].requires_agreement) is not None and needed != agreement:
        lower = next(s for s in Severity if s.rank == granted.rank - 1)
        caps.append(
            SeverityCap(
                code="agreement_required",
                message=(
                    f"severity {granted.value} needs a {needed.value} support agreement; "
                    f"the tenant has {agreement.value}, so the case is severity {lower.value}"
                ),
                params={
                    "severity": granted.value,
                    "needed": needed.value,
                    "agreement": agreement.value,
                    "lower": lower.value,
                },
            )
        )
        granted = lower
    return SeverityDecision(requested=requested, granted=granted, caps=caps)


def calendar_name(policy: Policy, category: Category, severity: Severity) -> str:
    """The category's own calendar when it has one (billing, pre-sales), else the severity's."""
    return policy.categories[category].calendar or policy.severities[severity].calendar


def case_calendar(policy: Policy, category: Category, severity: Severity, tenant_time_zone: str) -> Calendar:
    """The calendar a case's clocks run on, in the tenant's zone where the category says so."""
    calendar = policy.calendars[calendar_name(policy, category, severity)]
    if policy.categories[category].time_zone == "tenant" and tenant_time_zone != calendar.time_zone:
        return Calendar.model_validate(calendar.model_dump() | {"time_zone": tenant_time_zone})
    return calendar

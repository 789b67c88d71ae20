"""The terms a case opens on: granted severity, calendar and first-response clock (pure).

One function, used by the workflow when a case opens and by `starter.py policy due`, so the
answer the CLI gives is the answer a case gets.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from support.calendar import Calendar
from support.entitlement import SeverityDecision, calendar_name, case_calendar, decide_severity
from support.policy import Policy
from support.sla import ClockPlan, plan_clock
from support.vocabulary import Agreement, Category, Severity


class CaseTerms(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: SeverityDecision
    calendar_name: str
    calendar: Calendar
    first_response: ClockPlan


def case_terms(
    policy: Policy,
    category: Category,
    requested: Severity,
    agreement: Agreement,
    tenant_time_zone: str,
    opened_at: datetime,
) -> CaseTerms:
    decision = decide_severity(policy, category, requested, agreement)
    calendar = case_calendar(policy, category, decision.granted, tenant_time_zone)
    plan = plan_clock(
        calendar, opened_at, policy.severities[decision.granted].first_response, policy.sla.warn_at
    )
    return CaseTerms(
        decision=decision,
        calendar_name=calendar_name(policy, category, decision.granted),
        calendar=calendar,
        first_response=plan,
    )

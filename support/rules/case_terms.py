"""The terms a case opens on: granted severity, calendar and first-response clock (pure).

One function, used by the workflow when a case opens and by `starter.py policy due`, so the
answer the CLI gives is the answer a case gets: the first-response plan is the clock a case
opening at that instant starts (`support.sla_clocks.clocks.start_clock`), not a second computation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from support.policies.policy import Policy
from support.policies.targets import Target
from support.policies.vocabulary import Agreement, Category, Severity
from support.rules.entitlement import SeverityDecision, calendar_name, case_calendar, decide_severity
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clock_state import Checkpoint
from support.sla_clocks.clocks import ClockName, ClockTerms, SlaClock, start_clock


class ClockPlan(BaseModel):
    """A just-started clock seen as its plan: its target, deadline and checkpoints (warnings, then
    the breach at the deadline)."""

    model_config = ConfigDict(frozen=True)

    target: Target
    clock: SlaClock

    @property
    def business_time(self) -> timedelta:
        return self.clock.business_time

    @property
    def due(self) -> datetime:
        assert self.clock.due is not None, "a just-started clock is running, so it has a deadline"
        return self.clock.due

    @property
    def checkpoints(self) -> list[Checkpoint]:
        return self.clock.checkpoints


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
    target = policy.severities[decision.granted].first_response
    terms = ClockTerms(calendar, tuple(policy.sla.warn_at))
    clock = start_clock(ClockName.FIRST_RESPONSE, terms, target, opened_at)
    return CaseTerms(
        decision=decision,
        calendar_name=calendar_name(policy, category, decision.granted),
        calendar=calendar,
        first_response=ClockPlan(target=target, clock=clock),
    )

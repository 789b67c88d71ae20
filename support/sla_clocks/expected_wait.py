"""What a customer would wait for a first response if they opened a case now (pure).

The "Contact support" panel shows it before the customer submits, and `GET /intake/expected-wait`
answers it: the severity the case would get (capped by category and agreement), the calendar its
clock would run on, the deadline and the wall-clock wait until it, and whether support works that
calendar now. It is `support.rules.case_terms.case_terms`, the very function a case opens with, so the
panel and the acknowledgement email cannot disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from support.identity.tenant import PurchaseChannel, TenantProfile
from support.policies.policy import Policy
from support.policies.vocabulary import Category, Severity
from support.rules.case_terms import case_terms
from support.rules.entitlement import SeverityCap


class ExpectedWait(BaseModel):
    """The answer for one tenant, category and severity at one instant."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    category: Category
    requested_severity: Severity
    severity: Severity = Field(description="what the case would get (capped by category and agreement)")
    severity_caps: list[SeverityCap] = Field(default_factory=list)
    calendar: str
    time_zone: str = Field(description="the calendar's zone, for display")
    at: datetime = Field(description="when this was computed")
    first_response_target: str = Field(description="policy notation, e.g. '1h' or '1 business day'")
    first_response_business_seconds: int
    first_response_due: datetime
    expected_wait_seconds: int = Field(description="wall-clock seconds from `at` until the deadline")
    support_open_now: bool
    support_opens_at: datetime = Field(description="`at` when open, else when the calendar next opens")
    referred_to_partner: str | None = Field(
        default=None, description="a partner-only tenant is supported by its partner: no case would open"
    )


def expected_wait(
    policy: Policy,
    tenant_id: str,
    tenant: TenantProfile,
    category: Category,
    severity: Severity,
    now: datetime,
) -> ExpectedWait:
    """The first-response terms a case of this tenant opened at `now` would get."""
    terms = case_terms(policy, category, severity, tenant.agreement, tenant.time_zone, now)
    calendar = terms.calendar
    due = terms.first_response.due
    referral = None
    if tenant.purchase_channel is PurchaseChannel.PARTNER:
        referral = tenant.partner_name or "your partner"
    return ExpectedWait(
        tenant_id=tenant_id,
        category=category,
        requested_severity=severity,
        severity=terms.decision.granted,
        severity_caps=list(terms.decision.caps),
        calendar=terms.calendar_name,
        time_zone=calendar.time_zone,
        at=now,
        first_response_target=str(terms.first_response.target),
        first_response_business_seconds=int(terms.first_response.business_time.total_seconds()),
        first_response_due=due,
        expected_wait_seconds=int(max(due - now, timedelta(0)).total_seconds()),
        support_open_now=calendar.is_open(now),
        support_opens_at=calendar.next_open(now),
        referred_to_partner=referral,
    )

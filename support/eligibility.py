"""Whether a request may become a case at all (pure).

Only the unknown-tenant rule is decided here so far; admin-only, partner referral and the
out-of-scope boundary are the intake issue's and slot in beside it.
"""

from __future__ import annotations

from support.case_view import Refusal
from support.tenant import TenantFacts


def check_eligibility(tenant_id: str, tenant: TenantFacts | None) -> Refusal | None:
    if tenant is None:
        return Refusal(
            code="unknown_tenant",
            message=f"Tenant {tenant_id!r} is not a customer of this support service; check the tenant id.",
        )
    return None

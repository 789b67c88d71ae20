"""Whether a request may become a case at all (pure, from the facts an activity read).

Every refusal is a normal result: a machine-readable code and a sentence for the requester.
"""

from __future__ import annotations

from support.case.view import Refusal
from support.identity.tenant import PurchaseChannel, TenantFacts
from support.policies.vocabulary import IssueArea
from support.rules.request import CaseRequest

_OUT_OF_SCOPE = {
    IssueArea.THIRD_PARTY_ADDIN: (
        "Third-party add-ins and services are outside this support service; please contact the add-in's "
        "vendor. If the problem is in the suite itself, open the case again with scope 'product'."
    ),
    IssueArea.CUSTOMER_NETWORK: (
        "Problems in your own network (firewalls, proxies, DNS, local connectivity) are outside this support "
        "service; please contact your network administrator or provider. If the suite's services are at "
        "fault, open the case again with scope 'product'."
    ),
}


def check_eligibility(
    request: CaseRequest, tenant: TenantFacts | None, requester_is_admin: bool
) -> Refusal | None:
    if tenant is None:
        return Refusal(
            code="unknown_tenant",
            message=f"Tenant {request.tenant_id!r} is not a customer of this support service; "
            "check the tenant id.",
            params={"tenant_id": request.tenant_id},
        )
    if not requester_is_admin:
        return Refusal(
            code="not_admin",
            message=(
                "Only your organisation's administrators can open support cases. Please ask one of your "
                "administrators to open it, or look for an answer in the community forums."
            ),
        )
    if tenant.purchase_channel is PurchaseChannel.PARTNER:
        partner = tenant.partner_name or "your partner"
        contact = f" ({tenant.partner_contact})" if tenant.partner_contact else ""
        return Refusal(
            code="partner_referral",
            message=f"{tenant.name} bought its subscriptions through {partner}, "
            f"who provides its support{contact}.",
            params={"tenant": tenant.name, "partner": tenant.partner_name or ""}
            | ({"contact": tenant.partner_contact} if tenant.partner_contact else {}),
            referral_partner=tenant.partner_name,
            referral_contact=tenant.partner_contact,
        )
    if request.scope in _OUT_OF_SCOPE:
        return Refusal(
            code="out_of_scope", message=_OUT_OF_SCOPE[request.scope], params={"area": request.scope.value}
        )
    return None

"""Case requests for tests; tenants come from the shipped directory.toml."""

from __future__ import annotations

from typing import Any

from support.rules.request import CaseRequest

TENANTS = {
    "contoso": "admin@contoso.example",  # premium, Asia/Shanghai
    "fabrikam": "it@fabrikam.example",  # standard, Europe/Budapest
}


def case_request(request_id: str, tenant: str = "contoso", **overrides: Any) -> CaseRequest:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "tenant_id": tenant,
        "requester": TENANTS.get(tenant, "someone@example.com"),
        "category": "technical",
        "severity": "A",
        "title": "Exchange Online is down",
        "description": "Nobody in the company can send or receive mail since 09:00.",
        "contact_email": TENANTS.get(tenant, "someone@example.com"),
    }
    fields.update(overrides)
    if "requester" in overrides and "contact_email" not in overrides:
        fields["contact_email"] = overrides["requester"]  # the requester's own address is always allowed
    return CaseRequest.model_validate(fields)

"""What a case is decided on when it opens: the policy snapshot and the directory's facts.

An activity reads them (`activities/case_context.py`); the case's machine decides on them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from support.identity.directory import Incident
from support.identity.tenant import TenantFacts
from support.policies.policy import Policy


class CaseContext(BaseModel):
    policy: Policy
    tenant: TenantFacts | None
    requester_is_admin: bool = False
    caller_registered: bool | None = None  # None: not a phone request
    incident: Incident | None = None
    policy_digest: str | None = Field(
        default=None,
        description="the policy file's version (support.policies.versions); None from older workers",
    )

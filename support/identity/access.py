"""Who may do what: the roles of the support operator and what each may do, on which tenants.

Pure: a principal is what an entry point learned about its caller (an API key's name, role and
tenants; the CLI is an operator). Every entry point asks `allows` before it acts and `sees` before
it shows a case, so the rule lives here once, next to the permissions it names.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from support.wording.text_shapes import NAME_PATTERN, TENANT_ID_PATTERN


class Role(StrEnum):
    PORTAL = "portal"  # the customer's web portal: acts for its tenants' admins
    PHONE = "phone"  # the phone system: as portal, and vouches for the caller's number
    AGENT = "agent"  # a support engineer: the engineer's actions on any case
    OPERATOR = "operator"  # runs the service: everything


class Permission(StrEnum):
    OPEN_CASE = "open_case"  # web intake
    OPEN_PHONE_CASE = "open_phone_case"  # phone intake with caller_number
    READ_CASES = "read_cases"  # show and list (tenant-scoped for portal and phone)
    CUSTOMER_ACTION = "customer_action"  # cooperate, reopen, survey, withdraw, verification
    AGENT_ACTION = "agent_action"  # respond, update, ask, severity, resolve, assign, note
    READ_REPORTS = "read_reports"  # SLA and satisfaction reports (tenant-scoped for portal and phone)
    OPERATE = "operate"  # history, replay, timeline, codec server


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.PORTAL: frozenset(
        {Permission.OPEN_CASE, Permission.READ_CASES, Permission.CUSTOMER_ACTION, Permission.READ_REPORTS}
    ),
    Role.PHONE: frozenset(
        {
            Permission.OPEN_CASE,
            Permission.OPEN_PHONE_CASE,
            Permission.READ_CASES,
            Permission.CUSTOMER_ACTION,
            Permission.READ_REPORTS,
        }
    ),
    Role.AGENT: frozenset({Permission.READ_CASES, Permission.AGENT_ACTION}),
    Role.OPERATOR: frozenset(Permission),
}

ALL_TENANTS = "*"
TENANT_SCOPED = frozenset({Role.PORTAL, Role.PHONE})


class Principal(BaseModel):
    """Who is asking: the key's name (recorded as the actor where it acts), role and tenants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="e.g. contoso-portal or li.wei")
    role: Role
    tenants: tuple[str, ...] = Field(
        default=(), description="portal and phone keys: the tenants it acts for; ['*'] = all"
    )

    @model_validator(mode="after")
    def _scope(self) -> Principal:
        if self.role in TENANT_SCOPED and not self.tenants:
            raise ValueError(f"a {self.role.value} key must name its tenants (or ['*'])")
        if self.role not in TENANT_SCOPED and self.tenants:
            raise ValueError(f"a {self.role.value} key acts on every tenant; drop 'tenants'")
        for tenant in self.tenants:
            if tenant != ALL_TENANTS and not re.match(TENANT_ID_PATTERN, tenant):
                raise ValueError(f"tenants: {tenant!r} is not a tenant id")
        return self

    def allows(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    @property
    def customer_side(self) -> bool:
        """Portal and phone keys act for customers: they see the customer's view of a case
        (`support.case.customer_view`), never staff's notes."""
        return self.role in TENANT_SCOPED

    @property
    def all_tenants(self) -> bool:
        return self.role not in TENANT_SCOPED or ALL_TENANTS in self.tenants

    def sees(self, tenant_id: str) -> bool:
        """A case of a tenant this principal does not act for does not exist for it (404)."""
        return self.all_tenants or tenant_id in self.tenants

    @property
    def tenant_filter(self) -> tuple[str, ...] | None:
        """The tenants a list is limited to, or None for every tenant."""
        return None if self.all_tenants else self.tenants


CLI_OPERATOR = Principal(name="cli", role=Role.OPERATOR)

"""What a case needs to know about a tenant (read from the directory database by an activity)."""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from support.policies.vocabulary import Agreement
from support.rules.request import TENANT_ID_PATTERN


class PurchaseChannel(StrEnum):
    DIRECT = "direct"
    PARTNER = "partner"  # every subscription bought through a partner: the partner supports it
    MIXED = "mixed"


class TenantProfile(BaseModel):
    """What the directory says of a tenant, wherever it comes from (database row or import file)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    time_zone: str = "Asia/Shanghai"
    agreement: Agreement = Agreement.STANDARD
    purchase_channel: PurchaseChannel = PurchaseChannel.DIRECT
    partner_name: str | None = None
    partner_contact: str | None = None
    account_manager_email: str | None = Field(default=None, description="told of A cases")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class TenantFacts(TenantProfile):
    """Tenant facts a case is decided on, read once by an activity when the case opens."""

    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)

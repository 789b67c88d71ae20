"""What a case needs to know about a tenant (read from the directory database by an activity)."""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from support.request import TENANT_ID_PATTERN
from support.vocabulary import Agreement


class PurchaseChannel(StrEnum):
    DIRECT = "direct"
    PARTNER = "partner"  # every subscription bought through a partner: the partner supports it
    MIXED = "mixed"


class TenantFacts(BaseModel):
    """Tenant facts a case is decided on, read once by an activity when the case opens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    name: str
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

"""What the case needs to know about a tenant, and the directory file that holds tenants."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from support.policy import describe_errors
from support.request import TENANT_ID_PATTERN
from support.vocabulary import Agreement


class PurchaseChannel(StrEnum):
    DIRECT = "direct"
    PARTNER = "partner"


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
    admins: list[str] = Field(default_factory=list, description="sign-in names of tenant administrators")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class DirectoryError(ValueError):
    """A directory file that cannot be used; the message names the tenant and field."""


def parse_directory(text: str, source: str = "directory.toml") -> dict[str, TenantFacts]:
    """Tenants by id from a `[tenants.<id>]` TOML file."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DirectoryError(f"{source}: not valid TOML: {error}") from None
    tenants: dict[str, TenantFacts] = {}
    problems: list[str] = []
    for tenant_id, table in (data.get("tenants") or {}).items():
        try:
            tenants[tenant_id] = TenantFacts.model_validate({"tenant_id": tenant_id, **table})
        except ValidationError as error:
            problems.append(describe_errors(error, f"{source}: [tenants.{tenant_id}]"))
        except TypeError:
            problems.append(f"{source}: [tenants.{tenant_id}] is not a table")
    if problems:
        raise DirectoryError("\n".join(problems))
    return tenants

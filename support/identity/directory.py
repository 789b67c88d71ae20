"""The directory import file (TOML or JSON): tenants, their people and contacts, incidents.

Parsed and validated in full before anything is written, so a bad file changes nothing and the
error names the tenant and field.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from support.identity.tenant import TenantFacts, TenantProfile
from support.policies.policy import describe_errors
from support.rules.request import TENANT_ID_PATTERN

_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DirectoryError(ValueError):
    """A directory file that cannot be imported; the message names the entry and field."""


def _utc(value: datetime | None) -> datetime | None:
    """Databases without time zones (SQLite) hand back naive UTC; everything here is aware UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Incident(BaseModel):
    """A service health incident; a case about that service while it is active is linked to it."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    service: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    title: str = Field(min_length=3, max_length=500)
    started_at: datetime
    resolved_at: datetime | None = None

    @field_validator("started_at", "resolved_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    def active_at(self, at: datetime) -> bool:
        return self.started_at <= at and (self.resolved_at is None or at < self.resolved_at)


class TenantRecord(TenantProfile):
    """One tenant of an import file: its profile, its people and its registered contacts."""

    admins: list[str] = Field(default_factory=list, description="sign-in names of tenant administrators")
    users: list[str] = Field(default_factory=list, description="other users (not administrators)")
    registered_emails: list[str] = Field(default_factory=list)
    registered_phones: list[str] = Field(default_factory=list, description="E.164")

    @field_validator("registered_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            if not _EMAIL.match(email):
                raise ValueError(f"{email!r} is not an email address")
        return value

    @field_validator("registered_phones")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        for phone in value:
            if not _PHONE.match(phone):
                raise ValueError(
                    f"{phone!r} is not a phone number in international form, e.g. +8613800138000"
                )
        return value

    def facts(self, tenant_id: str) -> TenantFacts:
        return TenantFacts.model_validate(
            {"tenant_id": tenant_id} | self.model_dump(include=set(TenantProfile.model_fields))
        )


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenants: dict[str, TenantRecord] = Field(default_factory=dict)
    incidents: list[Incident] = Field(default_factory=list)


def parse_directory_file(text: str, source: str) -> DirectoryFile:
    """A directory from TOML (`.toml`) or JSON text, fully validated."""
    try:
        data: Any = json.loads(text) if source.endswith(".json") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise DirectoryError(
            f"{source}: not valid {'JSON' if source.endswith('.json') else 'TOML'}: {error}"
        ) from None
    if not isinstance(data, dict):
        raise DirectoryError(f"{source}: expected a table/object with 'tenants' and 'incidents'")
    tenants = data.get("tenants")
    problems = [
        f"{source}: tenants.{t}: id must match {TENANT_ID_PATTERN}"
        for t in (tenants if isinstance(tenants, dict) else {})
        if not re.match(TENANT_ID_PATTERN, str(t))
    ]
    try:
        directory = DirectoryFile.model_validate(data)
    except ValidationError as error:
        problems.append(describe_errors(error, source))
        directory = None
    if problems or directory is None:
        raise DirectoryError("\n".join(problems))
    return directory

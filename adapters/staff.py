"""The staff list: the TOML file named by CASEWORK_STAFF (default: staff.toml in the project).

```toml
[[staff]]
name = "li.wei"                    # the engineer's name, as cases and API keys name them
email = "li.wei@casework.example"  # where their follow-ups go
language = "zh-CN"                 # optional: the language of their messages (else the policy's)
display_name = "Wei"               # optional: how customers see them (else the policy's support name)
time_zone = "Europe/Budapest"      # optional: the zone of their console times (else the support zone)
tenants = ["contoso"]              # optional: the tenants whose cases they work (else every tenant)
```

It is the only way an engineer's name becomes an address: names are looked up here, never
formatted into an address. A bad file stops the worker with one line naming the file, the entry
and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from support.identity.staffing import may_work
from support.wording.names import Names
from support.wording.text_shapes import NAME_PATTERN, TENANT_ID_PATTERN, Email, Line
from support.wording.validation import describe

LANGUAGE_TAG = r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,3}$"


class StaffMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    email: Email
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG, description="a BCP 47 tag: zh-CN, en")
    display_name: Line | None = Field(
        default=None,
        description="what customers read for this engineer (support.wording.names); else the support name",
    )
    time_zone: str | None = Field(
        default=None, description="an IANA zone for the console's times; else the policy's support zone"
    )
    team: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="the console's \"my team's cases\": who shares it"
    )

    tenants: tuple[str, ...] | None = Field(
        default=None,
        description="the tenants whose cases they work (support.identity.staffing); else every tenant",
    )

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for tenant in value or ():
            if not re.match(TENANT_ID_PATTERN, tenant):
                raise ValueError(f"{tenant!r} is not a tenant id")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class StaffList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    staff: list[StaffMember] = Field(default_factory=list)

    def emails(self) -> dict[str, str]:
        return {member.name: member.email for member in self.staff}

    def languages(self) -> dict[str, str]:
        return {member.name: member.language for member in self.staff if member.language}

    def zones(self) -> dict[str, str]:
        """Staff name -> the zone the console shows them times in (those who set one)."""
        return {member.name: member.time_zone for member in self.staff if member.time_zone}

    def who_may_work(self, tenant_id: str) -> list[str]:
        """The names of those who may work a case of this tenant, in the list's order."""
        return [m.name for m in self.staff if may_work(m.tenants, tenant_id)]

    def team_of(self, name: str) -> list[str]:
        """The names on `name`'s team (itself included); just itself when it has no team."""
        team = next((m.team for m in self.staff if m.name == name), None)
        return [name] if team is None else [m.name for m in self.staff if m.team == team]

    def display_names(self) -> dict[str, str]:
        return {member.name: member.display_name for member in self.staff if member.display_name}

    def names(self, support: Mapping[str, str] | None = None) -> Names:
        """The staff's display names, with the policy's support name by language (else the default)."""
        return Names(self.display_names()) if support is None else Names(self.display_names(), support)


class StaffFileError(ValueError):
    """The staff list cannot be used; the message names the file, the entry and the field."""


def parse_staff(text: str, source: str) -> StaffList:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StaffFileError(f"{source}: not TOML: {error}") from None
    try:
        parsed = StaffList.model_validate(data)
    except ValidationError as error:
        raise StaffFileError(f"{source}: " + "; ".join(describe(error))) from None
    names = [member.name for member in parsed.staff]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StaffFileError(f"{source}: staff names must be unique: {', '.join(dupes)}")
    return parsed


def load_staff(path: Path) -> StaffList:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise StaffFileError(f"{path}: cannot read the staff list (CASEWORK_STAFF): {reason}") from None
    return parse_staff(text, str(path))

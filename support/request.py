"""What the intake sends to open a case; validated before any workflow starts."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from support.vocabulary import Category, Channel, ContactMethod, IssueArea, Severity

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = r"^\+[1-9]\d{6,14}$"
_PHONE = re.compile(PHONE_PATTERN)

REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class CaseRequest(BaseModel):
    """A support request from the web portal or a phone agent. `request_id` is the idempotency key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="idempotency key; the case is case-<id>")
    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    requester: str = Field(min_length=1, max_length=200, description="the requesting user's sign-in name")
    category: Category
    severity: Severity = Field(description="the severity the customer asks for")
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=1, max_length=20_000)
    contact_email: str = Field(max_length=254, json_schema_extra={"format": "email"})
    contact_phone: str | None = Field(
        default=None, description="E.164, e.g. +8613800138000", json_schema_extra={"pattern": PHONE_PATTERN}
    )
    preferred_contact: ContactMethod = ContactMethod.EMAIL
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 tag")
    channel: Channel = Channel.WEB
    caller_number: str | None = Field(
        default=None,
        description="phone intake: the number the call came from",
        json_schema_extra={"pattern": PHONE_PATTERN},
    )
    service: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$",
        description="affected service, e.g. exchange, teams",
    )
    scope: IssueArea = Field(default=IssueArea.PRODUCT, description="where the requester says the problem is")

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value

    @field_validator("contact_phone", "caller_number")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = re.sub(r"[\s()-]", "", value)
        if not _PHONE.match(compact):
            raise ValueError("not a phone number in international form, e.g. +8613800138000")
        return compact

    @model_validator(mode="after")
    def _reachable(self) -> CaseRequest:
        if self.preferred_contact is ContactMethod.PHONE and self.contact_phone is None:
            raise ValueError("preferred_contact is phone but no contact_phone was given")
        if self.channel is Channel.PHONE and self.caller_number is None:
            raise ValueError("channel is phone but no caller_number was given")
        return self

    @property
    def case_id(self) -> str:
        return case_id_for(self.request_id)


def case_id_for(request_id: str) -> str:
    """Workflow id of a request's case: starting the same request twice finds the same case."""
    return f"case-{request_id}"

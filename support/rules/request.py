"""What the intake sends to open a case; validated before any workflow starts."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from support.case.actions import ATTACHMENTS_PER_REPLY, MESSAGE_HASH_PATTERN, AttachmentRef
from support.policies.vocabulary import Category, Channel, ContactMethod, IssueArea, Severity
from support.wording.text_shapes import (
    PHONE_PATTERN,
    REQUEST_ID_PATTERN,
    TENANT_ID_PATTERN,
    Email,
    Line,
    Message,
    Title,
)

_PHONE = re.compile(PHONE_PATTERN)

__all__ = [
    "PHONE_PATTERN",
    "REQUEST_ID_PATTERN",
    "TENANT_ID_PATTERN",
    "CaseRequest",
    "RequestDetails",
    "case_id_for",
]


class CaseRequest(BaseModel):
    """A support request from the web portal or a phone agent. `request_id` is the idempotency key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    request_id: str = Field(pattern=REQUEST_ID_PATTERN, description="idempotency key; the case is case-<id>")
    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    requester: Line = Field(description="the requesting user's sign-in name")
    category: Category
    severity: Severity = Field(description="the severity the customer asks for")
    title: Title
    description: Message
    contact_email: Email = Field(
        description="where the customer hears from us: an address of the tenant's in the directory, "
        "or the requester's own"
    )
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
    attachments: list[str] = Field(
        default_factory=list,
        max_length=ATTACHMENTS_PER_REPLY,
        description="files given at opening: ids answered by POST /attachments (of this tenant, "
        "within a day); or send the files themselves as multipart (see POST /cases)",
        json_schema_extra={"items": {"type": "string", "pattern": MESSAGE_HASH_PATTERN}},
    )

    @field_validator("attachments")
    @classmethod
    def _upload_ids(cls, value: list[str]) -> list[str]:
        for given in value:
            if not re.fullmatch(MESSAGE_HASH_PATTERN, given):
                raise ValueError(f"{given[:70]!r} is not an upload id (64 hex digits)")
        return list(dict.fromkeys(value))

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
        return case_id_for(self.tenant_id, self.request_id)


def case_id_for(tenant_id: str, request_id: str) -> str:
    """Workflow id of a request's case: the same request twice finds the same case, and the same
    request id from another tenant is another case. The dot cannot occur in a tenant id, so no two
    (tenant, request id) pairs share a case id."""
    return f"case-{tenant_id}.{request_id}"


class RequestDetails(BaseModel):
    """What the customer wrote and whom to reach, as readers of the case see it (agents,
    operators, the tenant's own portal). Read from the case's request (the workflow's input) when
    the case is shown: the view the case carries never holds it, so its state stays bounded, and
    neither search attributes nor logs see it."""

    description: str
    requester: str
    contact_email: str
    contact_phone: str | None = None
    preferred_contact: ContactMethod
    attachments: list[AttachmentRef] = Field(
        default_factory=list,
        description="files given at opening (GET /cases/{case_id}/attachments/{attachment_id})",
    )

    @classmethod
    def of(cls, request: CaseRequest, files: list[AttachmentRef] | None = None) -> RequestDetails:
        """`files`: the opening's files as the case keeps them (the intake stored them)."""
        return cls(
            description=request.description,
            requester=request.requester,
            contact_email=request.contact_email,
            contact_phone=request.contact_phone,
            preferred_contact=request.preferred_contact,
            attachments=list(files or []),
        )

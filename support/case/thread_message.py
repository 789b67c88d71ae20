"""A message of the case's thread, as the database keeps it and readers get it (see
`support.case.thread` for the rules: which events are messages, who sees what)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from support.case.actions import AttachmentRef
from support.policies.vocabulary import Via


class MessageKind(StrEnum):
    DESCRIPTION = "description"  # the customer's request, as opened
    RESPONSE = "response"  # the first response
    UPDATE = "update"
    REQUEST = "request"  # the engineer asks the customer for something
    ASKED_AGAIN = "asked_again"  # an obligation asked for again, with why
    RESOLUTION = "resolution"
    REPLY = "reply"  # the customer's email reply
    COMMENT = "comment"  # the customer's comment in the portal (the same event as a reply)
    ANSWER = "answer"  # the customer's answer to an obligation or request
    REOPEN = "reopen"
    WITHDRAWAL = "withdrawal"
    NOTE = "note"  # staff only


Role = Literal["customer", "staff"]


class ThreadMessage(BaseModel):
    """One message in full, as the database keeps it and readers get it."""

    case_id: str
    tenant_id: str
    seq: int = Field(ge=0, description="its place in the case's thread (0: the description)")
    at: datetime
    kind: MessageKind
    role: Role
    author: str = Field(description="staff: the engineer's name (to staff); the customer: who wrote")
    via: Via
    internal: bool = False
    about: str | None = Field(default=None, description="the obligation or request an answer is for")
    body: str
    attachments: list[AttachmentRef] = Field(default_factory=list)


class ThreadPage(BaseModel):
    messages: list[ThreadMessage]
    next_cursor: str | None = Field(default=None, description="pass as cursor= for the next page")

"""Actions on a case (workflow updates and signals): each is one validated pydantic model.

The engineer's name is the acting API key's name (the HTTP API fills it in; a body cannot name
another engineer); the CLI acts as operator and names the engineer it acts for.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from support.policies.vocabulary import Severity, Via
from support.wording.text_shapes import Comment, EngineerName, FileName, Line, Message, Note, Reason


class FirstResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName = Field(description="who answered")
    message: Message = Field(description="what the customer was told")
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    summary: Message = Field(description="what fixed it")
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class CustomerUpdate(BaseModel):
    """An engineer's update to the customer; it satisfies the customer-update clock."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    message: Message
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class CustomerActionRequest(BaseModel):
    """An engineer asks the customer for something; while it is outstanding the update clock waits."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    what: Reason = Field(description="what the customer must provide")
    pauses_clock: bool = True
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class SeverityChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    severity: Severity
    reason: Reason


class ReopenRequest(BaseModel):
    """The customer says the problem is back, within the reopen window."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requester: Line
    reason: Reason
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


ASKED_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"  # an obligation's name, or request-<n>


class Cooperation(BaseModel):
    """Customer signal: an obligation or request is fulfilled."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(pattern=ASKED_ID_PATTERN, description="e.g. impact_analysis or request-1")
    details: Message
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class ObligationAcceptance(BaseModel):
    """An engineer accepts an obligation: what the customer provided (a reply, a comment, a tick in
    the portal) or what reached support another way. Accepted, it is settled for good."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    request_id: str = Field(pattern=ASKED_ID_PATTERN, description="the obligation's name (impact_analysis)")


class ObligationAskedAgain(BaseModel):
    """An engineer asks for an answered or accepted obligation again: it is outstanding with a new
    due time (its reminders and the downgrade timer start over) and the customer is told why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    request_id: str = Field(pattern=ASKED_ID_PATTERN, description="the obligation's name (impact_analysis)")
    reason: Reason = Field(description="why it is needed again: told to the customer")
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5)
    comment: Comment = ""


class Assignment(BaseModel):
    """An agent hands the case to an engineer on the staff list (the intake checks the list)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName = Field(description="who assigns (the acting key's name)")
    assignee: EngineerName = Field(description="who holds the case from now on: a name on the staff list")
    reason: Reason


class InternalNote(BaseModel):
    """A note for colleagues: kept with the case for staff, never told to the customer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    note: Note
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


class Withdrawal(BaseModel):
    """The customer withdraws an open case (it solved itself): closed without a survey."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requester: Line
    reason: Reason
    via: Via | None = Field(default=None, description="filled in by the intake: where it came in")


# -- a customer's email reply (issue 15): the contract between the inbound mail and the case -------

ATTACHMENTS_PER_REPLY = 20
MESSAGE_HASH_PATTERN = r"^[0-9a-f]{64}$"


class AttachmentRef(BaseModel):
    """An attachment of a customer's reply, as the case lists it. The bytes are stored outside
    the workflow (the attachment store, by `attachment_id`); the case keeps only this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attachment_id: str = Field(pattern=MESSAGE_HASH_PATTERN, description="the store's key (SHA-256 hex)")
    filename: FileName
    content_type: str = Field(pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
    size: int = Field(ge=0, description="bytes")


class CustomerReply(BaseModel):
    """A customer's email reply to the case, already checked by the inbound mail (the sender is a
    contact of the case's tenant; not an auto-reply; quoted history and signature stripped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message_id: str = Field(
        pattern=MESSAGE_HASH_PATTERN,
        description="SHA-256 hex of the mail's Message-ID: the same mail twice is one message",
    )
    sender: Line = Field(description="the sender's address, masked (support.identity.verification.mask)")
    body: Message
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=ATTACHMENTS_PER_REPLY)
    via: Via | None = Field(default=None, description="email (None) or the portal's comment box")


Action = (
    FirstResponse
    | CustomerUpdate
    | CustomerActionRequest
    | SeverityChangeRequest
    | Resolution
    | ReopenRequest
    | Cooperation
    | ObligationAcceptance
    | ObligationAskedAgain
    | SurveyAnswer
    | Assignment
    | InternalNote
    | Withdrawal
    | CustomerReply
)
"""Every action a person takes on a case (an engineer, the customer, a customer's email reply):
each has one row in `support.case.action_table`, which says how the case takes it."""

"""Actions on a case (workflow updates and signals): each is one validated pydantic model.

The engineer's name is the acting API key's name (the HTTP API fills it in; a body cannot name
another engineer); the CLI acts as operator and names the engineer it acts for.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from support.text import Comment, EngineerName, Line, Message, Reason
from support.vocabulary import Severity


class FirstResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName = Field(description="who answered")
    message: Message = Field(description="what the customer was told")


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    summary: Message = Field(description="what fixed it")


class CustomerUpdate(BaseModel):
    """An engineer's update to the customer; it satisfies the customer-update clock."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    message: Message


class CustomerActionRequest(BaseModel):
    """An engineer asks the customer for something; while it is outstanding the update clock waits."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: EngineerName
    what: Reason = Field(description="what the customer must provide")
    pauses_clock: bool = True


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


class Cooperation(BaseModel):
    """Customer signal: an obligation or request is fulfilled."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$", description="e.g. impact_analysis or request-1"
    )
    details: Message


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5)
    comment: Comment = ""

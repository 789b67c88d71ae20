"""Agent actions on a case (workflow updates): each is one validated pydantic model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from support.vocabulary import Severity


class FirstResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100, description="who answered")
    message: str = Field(min_length=1, max_length=20_000, description="what the customer was told")


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=20_000, description="what fixed it")


class CustomerUpdate(BaseModel):
    """An engineer's update to the customer; it satisfies the customer-update clock."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=20_000)


class CustomerActionRequest(BaseModel):
    """An engineer asks the customer for something; while it is outstanding the update clock waits."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100)
    what: str = Field(min_length=3, max_length=2_000, description="what the customer must provide")
    pauses_clock: bool = True


class SeverityChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100)
    severity: Severity
    reason: str = Field(min_length=3, max_length=2_000)


class ReopenRequest(BaseModel):
    """The customer says the problem is back, within the reopen window."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requester: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=3, max_length=2_000)


class Cooperation(BaseModel):
    """Customer signal: an obligation or request is fulfilled."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(min_length=1, max_length=100, description="e.g. impact_analysis or request-1")
    details: str = Field(min_length=1, max_length=20_000)


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=5_000)

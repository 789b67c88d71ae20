"""Agent actions on a case (workflow updates): each is one validated pydantic model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FirstResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100, description="who answered")
    message: str = Field(min_length=1, max_length=20_000, description="what the customer was told")


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    engineer: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=20_000, description="what fixed it")

"""Canned replies: the operator's stock answers (replies.toml), each with an id and its text in
every language the console speaks, so a reply goes out in the customer's language.

Pure: the file's data is checked here, and a fault is one line naming the field
(`replies[2].text.hu: missing`); reading the file is `adapters.canned_replies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from support.wording.text_shapes import Message
from support.wording.validation import describe

LANGUAGES = ("en", "zh-CN", "hu")
REPLY_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class RepliesError(ValueError):
    """The replies' data cannot be used; the message names the field. `errors` are pydantic's,
    for a reader who wants them in their own language (the console)."""

    def __init__(self, message: str, errors: tuple[Mapping[str, Any], ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors


class CannedReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=REPLY_ID, description="how the form names it: lower case, digits, - and _")
    text: dict[str, Message] = Field(description="the reply in en, zh-CN and hu")

    @field_validator("text")
    @classmethod
    def _every_language(cls, text: dict[str, str]) -> dict[str, str]:
        missing = [language for language in LANGUAGES if language not in text]
        if missing:
            raise ValueError(f"needs a text in {', '.join(missing)}")
        unknown = sorted(set(text) - set(LANGUAGES))
        if unknown:
            raise ValueError(
                f"unknown language {', '.join(unknown)} (the languages are {', '.join(LANGUAGES)})"
            )
        return text

    def in_language(self, language: str) -> str:
        """The text for a reader of `language` (English for a language we do not speak)."""
        return self.text.get(language) or self.text["en"]


class CannedReplies(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    replies: list[CannedReply] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _unique(self) -> CannedReplies:
        seen: set[str] = set()
        for index, reply in enumerate(self.replies):
            if reply.id in seen:
                raise ValueError(f"replies[{index}].id: {reply.id!r} is used twice")
            seen.add(reply.id)
        return self

    def get(self, reply_id: str) -> CannedReply | None:
        return next((reply for reply in self.replies if reply.id == reply_id), None)


def parse_replies(data: Mapping[str, Any]) -> CannedReplies:
    """The replies of a parsed file; raises RepliesError with one 'field: reason' line."""
    try:
        return CannedReplies.model_validate(data)
    except ValidationError as error:
        lines = describe(error)
        raise RepliesError(
            lines[0] if len(lines) == 1 else f"{lines[0]} (and {len(lines) - 1} more)",
            tuple(error.errors()),
        ) from None

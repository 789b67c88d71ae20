"""Pydantic's field errors in the console reader's words (en, zh-CN, hu).

Pydantic says "String should have at least 3 characters" in English whoever reads it. The console
maps each error's `type` (with its `ctx`: min_length, max_length, ge, le) to an entry of the phrase
book's `[field_errors]`; a `value_error` of casework's own validators (support.wording.text_shapes,
support.rules.request, support.messaging.canned_replies) by its message. Anything else reads as the generic
"this
field is not valid" in zh-CN and hu, and keeps pydantic's own (English) words for an English
reader, who loses nothing by them. The API keeps its JSON contract (support.wording.validation): this
module is for people reading the console.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from interfaces.console.i18n import Words
from support.wording.text_shapes import BIDI_REFUSED

# pydantic's error type -> (phrase-book key under [field_errors], the ctx entry it counts, if any)
TYPES: dict[str, tuple[str, str | None]] = {
    "missing": ("required", None),
    "string_too_short": ("too_short", "min_length"),
    "string_too_long": ("too_long", "max_length"),
    "too_short": ("too_few", "min_length"),
    "too_long": ("too_many", "max_length"),
    "string_pattern_mismatch": ("pattern", None),
    "enum": ("choice", None),
    "literal_error": ("choice", None),
    "int_parsing": ("number", None),
    "int_type": ("number", None),
    "int_from_float": ("number", None),
    "float_parsing": ("number", None),
    "greater_than_equal": ("at_least", "ge"),
    "less_than_equal": ("at_most", "le"),
    "extra_forbidden": ("unexpected", None),
    "string_type": ("text", None),
    "bool_parsing": ("yes_no", None),
    "datetime_parsing": ("date_time", None),
    "datetime_from_date_parsing": ("date_time", None),
    "date_parsing": ("date", None),
    "date_from_datetime_parsing": ("date", None),
}
# casework's own validators' messages (a `value_error`, or a hand-made error of the queue's
# filters) -> phrase-book key
MESSAGES: dict[str, str] = {
    "not an email address": "email",
    "not a phone number in international form, e.g. +8613800138000": "phone",
    "preferred_contact is phone but no contact_phone was given": "phone_needed",
    "must be one line without control characters": "one_line",
    "must not contain control characters other than line breaks and tabs": "controls",
    BIDI_REFUSED: "bidi",
    "not a severity": "choice",
    "not a status": "choice",
    "not a tenant id": "pattern",
    "not a page number": "number",
    "not a view": "choice",
    "who holds a case is for staff": "staff_only",
}
MESSAGE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"needs a text in (?P<languages>[\w, -]+)"), "needs_languages"),
    (re.compile(r"unknown language (?P<languages>[\w, -]+) \("), "unknown_language"),
    (re.compile(r"replies\[\d+\]\.id: '[^']*' is used twice"), "used_twice"),
    (re.compile(r"'[^']*' is not an upload id"), "upload_id"),
)


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def field_problem(error: Mapping[str, Any], words: Words) -> str:
    """One error in the reader's words."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    message = _plain(str(error.get("msg", "")))
    if kind in TYPES:
        key, counted = TYPES[kind]
        count = ctx.get(counted) if counted else None
        if kind == "string_too_short" and count == 1:
            key = "required"  # an empty box: "at least 1 character" is how pydantic says "required"
        if count is not None:
            one = words.lookup(f"field_errors.{key}_one") if count == 1 else None
            return one.format(count=count) if one else words(f"field_errors.{key}", count=count)
        return words(f"field_errors.{key}")
    if message in MESSAGES:
        return words(f"field_errors.{MESSAGES[message]}")
    for pattern, key in MESSAGE_PATTERNS:
        found = pattern.search(message)
        if found:
            return words(f"field_errors.{key}", **found.groupdict())
    return message if words.language == "en" and message else words("field_errors.invalid")


def _where(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def field_problems(
    errors: ValidationError | Iterable[Mapping[str, Any]],
    words: Words,
    skip: int = 0,
    renamed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """{field: what is wrong with it, in the reader's words}; the first error of a field is kept.
    `skip` drops leading location parts (FastAPI's "body", "query")."""
    items = errors.errors() if isinstance(errors, ValidationError) else errors
    problems: dict[str, str] = {}
    for item in items:
        field = _where(tuple(item.get("loc", ()))[skip:])
        field = (renamed or {}).get(field, field)
        problems.setdefault(field, field_problem(item, words))
    return problems

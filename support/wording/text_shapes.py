"""The shapes of text casework accepts, each defined once: ids, names, addresses, one-line fields
and messages, with their maximum sizes.

A one-line field (a title, a name, an id, an address) refuses control characters: a CR/LF in a
title would break an email header or fake a line of a staff message. It refuses the bidirectional
controls too (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C): they make a line display in
another order than it is stored ("invoice<U+202E>fdp.exe" shows as "invoiceexe.pdf"), so what staff
read in a mail or the console would not be what was sent. A message may hold line breaks and tabs,
and nothing else below U+0020. Every limit is documented in docs/security.md.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # API key and engineer names
PHONE_PATTERN = r"^\+[1-9]\d{6,14}$"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

TITLE_MAX = 200
LINE_MAX = 200
MESSAGE_MAX = 20_000  # a message to the customer, a description, a customer's answer
REASON_MAX = 2_000  # a severity change's reason, what the customer is asked for
COMMENT_MAX = 5_000  # a survey comment
NOTE_MAX = 5_000  # an engineer's internal note

# C0 controls and DEL, and the C1 controls; line and paragraph separators as well.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MESSAGE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The bidirectional controls: embeddings and overrides, isolates, and the marks.
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
BIDI_REFUSED = (
    "must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, "
    "U+200F, U+061C): they make the text display in another order than it was sent"
)


def _one_line(value: str) -> str:
    if _ANY_CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    if _BIDI.search(value):
        raise ValueError(BIDI_REFUSED)
    return value


def without_bidi(name: str, replacement: str = "_") -> str:
    """A file name (or other shown text) with its bidirectional controls replaced, so it reads as
    it is stored."""
    return _BIDI.sub(replacement, name)


def _message(value: str) -> str:
    if _MESSAGE_CONTROL.search(value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


def is_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value)) and not _ANY_CONTROL.search(value) and not _BIDI.search(value)


def _email(value: str) -> str:
    if not is_email(value):
        raise ValueError("not an email address")
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]
Title = Annotated[str, Field(min_length=3, max_length=TITLE_MAX), AfterValidator(_one_line)]
Line = Annotated[str, Field(min_length=1, max_length=LINE_MAX), AfterValidator(_one_line)]
# A file's name as casework shows it: its bidirectional controls neutralised (replaced by "_"),
# not refused, so a name from a mail (or from a case recorded before) is always shown as stored.
FileName = Annotated[
    str,
    BeforeValidator(lambda v: without_bidi(v) if isinstance(v, str) else v),
    Field(min_length=1, max_length=LINE_MAX),
    AfterValidator(_one_line),
]
Message = Annotated[str, Field(min_length=1, max_length=MESSAGE_MAX), AfterValidator(_message)]
Reason = Annotated[str, Field(min_length=3, max_length=REASON_MAX), AfterValidator(_message)]
Comment = Annotated[str, Field(max_length=COMMENT_MAX), AfterValidator(_message)]
Note = Annotated[str, Field(min_length=1, max_length=NOTE_MAX), AfterValidator(_message)]
Email = Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"}), AfterValidator(_email)]
EngineerName = Annotated[str, Field(pattern=NAME_PATTERN, description="the engineer's staff name")]

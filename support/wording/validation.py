"""One describer of validation errors: one entry per field, the reason in plain words.

Used by the API (422 `fields`), the CLI (one line per field) and the files casework reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError


def _where(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc)


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def field_errors(
    errors: ValidationError | Iterable[Mapping[str, Any]], skip: int = 0
) -> list[dict[str, str]]:
    """[{"field": "contact_email", "message": "not an email address"}, ...]; `skip` drops leading
    location parts (FastAPI's "body")."""
    items = errors.errors() if isinstance(errors, ValidationError) else errors
    described = []
    for item in items:
        loc = tuple(item.get("loc", ()))[skip:]
        described.append({"field": _where(loc) or "body", "message": _reason(str(item.get("msg", "")))})
    return described


def describe(error: ValidationError) -> list[str]:
    """'field: reason' lines."""
    return [f"{e['field']}: {e['message']}" for e in field_errors(error)]

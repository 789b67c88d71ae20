"""Forms made from models: the case actions' forms come from the action table (`application.actions`),
so an action added to the table appears on the case page of the roles that may take it.

Posted forms are URL-encoded (no multipart: no file uploads here) and bounded before parsing.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union, get_args, get_origin
from urllib.parse import parse_qs

from pydantic import BaseModel
from pydantic.fields import FieldInfo

MAX_FORM_BYTES = 64 * 1024
LONG_TEXT = 300  # a text field allowed more characters than this is a textarea


@dataclass(frozen=True)
class Field:
    """One input of a form: its name, widget and choices."""

    name: str
    widget: str  # text, textarea, select, checkbox, number
    required: bool
    choices: tuple[str, ...] = ()
    default: str = ""
    minimum: int | None = None
    maximum: int | None = None


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether None was allowed."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _bound(info: FieldInfo, attribute: str) -> int | None:
    for item in info.metadata:
        value = getattr(item, attribute, None)
        if isinstance(value, int):
            return value
    return None


def form_fields(model: type[BaseModel]) -> list[Field]:
    """The inputs of a model's form, in the model's field order."""
    fields = []
    for name, info in model.model_fields.items():
        annotation, optional = _plain(info.annotation)
        required = info.is_required() and not optional
        default = "" if info.default is None or info.is_required() else str(info.default)
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            choices = tuple(str(member.value) for member in annotation)
            if isinstance(info.default, Enum):
                default = str(info.default.value)
            fields.append(Field(name, "select", required, choices, default))
        elif annotation is bool:
            fields.append(Field(name, "checkbox", False, default="true" if info.default is True else ""))
        elif annotation is int:
            fields.append(
                Field(name, "number", required, minimum=_bound(info, "ge"), maximum=_bound(info, "le"))
            )
        else:
            longest = _bound(info, "max_length")
            widget = "textarea" if longest is not None and longest > LONG_TEXT else "text"
            fields.append(Field(name, widget, required, default=default))
    return fields


def parse_form(raw: bytes) -> dict[str, str]:
    """A URL-encoded body as single values (the last one wins); empty fields left out."""
    parsed = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=False, max_num_fields=100)
    return {key: values[-1] for key, values in parsed.items() if values}


def model_input(model: type[BaseModel], form: dict[str, str]) -> dict[str, Any]:
    """What a model is validated from: its own fields only, unchecked boxes as false."""
    data: dict[str, Any] = {}
    for field in form_fields(model):
        if field.widget == "checkbox":
            data[field.name] = field.name in form
        elif field.name in form:
            data[field.name] = form[field.name]
    return data

"""The Contact form's body: URL-encoded as every console form, or multipart/form-data when it
carries files (`application.opening_files`). Bounded before parsing: by its declared length and while
it streams, at the size an opening's files and fields may have (`body_limit`); the CSRF check
follows, as for every form."""

from __future__ import annotations

from fastapi import Request

from application.opening_files import GivenFile, read_multipart
from interfaces.console.forms import parse_form


class TooLargeForm(Exception):
    """Over the limit: the console's 413 page."""


async def read_contact(
    request: Request, limit: int, max_files: int
) -> tuple[dict[str, str], list[GivenFile]]:
    """The fields (single values, empty ones left out) and the files of a posted Contact form."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLargeForm()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLargeForm()
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        return parse_form(bytes(body)), []
    fields, files = read_multipart(content_type, bytes(body), max_files)  # BadMultipart: unread
    return {k: v for k, v in fields.items() if v}, files

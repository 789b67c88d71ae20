"""`GET /console/cases/{case_id}/attachments/{attachment_id}`: a file of the case (given at opening,
or with a reply) for whoever may read the case in the console; the link the case page and the
support queue's "new case" mail give staff. Served as a download, never rendered in the console's
origin, as the API serves it (`interfaces.api.attachments`)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from sqlalchemy import Engine

from adapters.attachment_store import AttachmentStore
from adapters.codec import SealError, key_ring_from_env
from application.cases import CaseNotFound, Cases, Unavailable
from support.case.actions import MESSAGE_HASH_PATTERN
from support.wording.text_shapes import without_bidi


def download(content: bytes, content_type: str, filename: str) -> Response:
    """The bytes as a download with a safe name, sandboxed, never cached."""
    shown = without_bidi(filename)
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in shown)
    encoded = quote(shown, safe="")
    return Response(
        content=content,
        media_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )


def add_request_files(
    app: APIRouter,
    prefix: str,
    engine: Engine,
    signed_in: Callable[[Request], Awaitable[Any]],
    get_cases: Callable[[], Awaitable[Cases]],
    case_id: re.Pattern[str],
) -> None:
    store = AttachmentStore(engine, key_ring_from_env())

    @app.get(f"{prefix}/cases/{{case_ref}}/attachments/{{attachment_id}}")
    async def case_file(request: Request, case_ref: str, attachment_id: str) -> Response:
        session = await signed_in(request)
        if not case_id.match(case_ref) or not re.fullmatch(MESSAGE_HASH_PATTERN, attachment_id):
            raise CaseNotFound(case_ref)
        cases = await get_cases()
        view = await cases.show(case_ref, session.principal)  # 404 for another tenant's case
        try:
            found = await asyncio.to_thread(store.get, view.case_id, attachment_id)
        except SealError as error:
            raise Unavailable("the file is sealed with a key this process does not have") from error
        if found is None or found.tenant_id != view.tenant_id:
            raise CaseNotFound(case_ref)
        return download(found.content, found.content_type, found.filename)

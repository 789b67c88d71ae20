"""`GET /cases/{case_id}/attachments/{attachment_id}`: an attachment of a customer's email reply, for
the keys that may read the case (another tenant's case is 404, as everywhere).

The bytes come from the attachment store (the case lists only `AttachmentRef`s). They are served
as a download, never rendered by the browser in the API's origin: `Content-Disposition: attachment`,
`X-Content-Type-Options: nosniff` and a sandboxing Content-Security-Policy.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations, and `CaseId` is
# made in `attachments_router`, where a string annotation could not be resolved.
import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy import Engine

from adapters.attachment_store import AttachmentStore
from adapters.codec import key_ring_from_env
from application.cases import CaseNotFound, Cases, Forbidden
from support.case.actions import MESSAGE_HASH_PATTERN
from support.identity.access import Permission, Principal
from support.wording.text_shapes import without_bidi

AttachmentId = Annotated[
    str, Path(pattern=MESSAGE_HASH_PATTERN, description="the id the case lists (64 hex digits)")
]


def _principal(request: Request) -> Principal:
    """Set by the guard (`application.guard.Guard`) before routing, for every route that is not public."""
    found: Principal = request.state.principal
    return found


def attachments_router(
    engine: Engine,
    get_cases: Callable[[], Awaitable[Cases]],
    case_id_pattern: str,
    responses: dict[int | str, dict[str, Any]],
) -> APIRouter:
    """The route over the database the attachments are kept in and the API's gateway dependency;
    `responses` are the API's documented errors (its exception handlers shape them)."""
    store = AttachmentStore(engine, key_ring_from_env())  # opens what the inbound mail sealed
    router = APIRouter()
    CaseId = Annotated[str, Path(pattern=case_id_pattern, description="case-<tenant>.<request_id>")]

    @router.get(
        "/cases/{case_id}/attachments/{attachment_id}",
        response_class=Response,
        responses={
            **responses,
            200: {"content": {"application/octet-stream": {}}, "description": "the attachment's bytes"},
        },
        summary="Download an attachment of a customer's email reply",
        description=f"Needs the `{Permission.READ_CASES.value}` permission.",
    )
    async def download(
        case_id: CaseId,
        attachment_id: AttachmentId,
        caller: Annotated[Principal, Depends(_principal)],
        cases: Annotated[Cases, Depends(get_cases)],
    ) -> Response:
        if not caller.allows(Permission.READ_CASES):
            raise Forbidden(f"a {caller.role.value} key cannot read cases")
        tenant = await cases.scope(case_id, caller)
        found = await asyncio.to_thread(store.get, case_id, attachment_id)
        if found is None or found.tenant_id != tenant:
            raise CaseNotFound(f"case {case_id} has no attachment {attachment_id}")
        shown = without_bidi(found.filename)  # a name from a mail stored before they were neutralised
        name = quote(shown, safe="")
        ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in shown)
        return Response(
            content=found.content,
            media_type=found.content_type,
            headers={
                "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{name}",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-store",
            },
        )

    return router

"""The thread's routes: `GET /cases/{case_id}/messages` (a page of the case's messages, as the key
may see them), `POST /cases/{case_id}/messages` (the customer writes to support: the same event
as a reply by email) and `POST /cases/{case_id}/attachments` (a file for a message to name)."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, and `CaseId` is
# made in `thread_router`, where a string annotation could not be resolved.
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from application.case_thread import CaseThread, Comment, Commented
from application.cases import Cases
from support.case.actions import AttachmentRef
from support.case.thread import PAGE_DEFAULT, PAGE_MAX
from support.case.thread_message import ThreadMessage
from support.identity.access import Permission, Principal
from support.wording.text_shapes import LINE_MAX, without_bidi

CONTENT_TYPE = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$"


def _principal(request: Request) -> Principal:
    """Set by the guard (`application.guard.Guard`) before routing, for every route that is not public."""
    found: Principal = request.state.principal
    return found


def thread_router(
    thread: CaseThread,
    get_cases: Callable[[], Awaitable[Cases]],
    case_id_pattern: str,
    responses: dict[int | str, dict[str, Any]],
) -> APIRouter:
    router = APIRouter()
    CaseId = Annotated[str, Path(pattern=case_id_pattern, description="case-<tenant>.<request_id>")]
    Caller = Annotated[Principal, Depends(_principal)]
    Gateway = Annotated[Cases, Depends(get_cases)]

    @router.get(
        "/cases/{case_id}/messages",
        response_model=list[ThreadMessage],
        responses=responses,
        summary="The case's thread: every message in both directions, oldest first, a page at a time",
        description=f"Needs `{Permission.READ_CASES.value}`. Portal and phone keys see no internal notes "
        "and no staff names. When there are more, `Next-Cursor` carries the cursor to pass as `cursor=` "
        "and `Link` names the next page.",
    )
    async def messages(
        request: Request,
        response: Response,
        case_id: CaseId,
        caller: Caller,
        cases: Gateway,
        cursor: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]*$")] = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    ) -> list[ThreadMessage]:
        page = await thread.page(cases, case_id, caller, cursor, limit)
        if page.next_cursor is not None:
            following = request.url.include_query_params(cursor=page.next_cursor)
            response.headers["Link"] = f'<{following}>; rel="next"'
            response.headers["Next-Cursor"] = page.next_cursor
        return page.messages

    @router.post(
        "/cases/{case_id}/messages",
        response_model=Commented,
        status_code=201,
        responses={200: {"model": Commented}, **responses},
        summary="The customer writes to support (the same event as a reply by email)",
        description=f"Needs `{Permission.CUSTOMER_ACTION.value}` (portal and phone keys of the case's "
        "tenant). The same `request_id` again is the same message (200, `created: false`).",
    )
    async def comment(
        case_id: CaseId, body: Comment, response: Response, caller: Caller, cases: Gateway
    ) -> Commented:
        done = await thread.comment(cases, case_id, caller, body)
        response.status_code = status.HTTP_201_CREATED if done.created else status.HTTP_200_OK
        return done

    @router.post(
        "/cases/{case_id}/attachments",
        response_model=AttachmentRef,
        status_code=201,
        responses=responses,
        summary="Upload a file (the raw body) for a message to name by its id",
        description=f"Needs `{Permission.CUSTOMER_ACTION.value}`. The body is the file's bytes (at most "
        "1 MiB), its `Content-Type` the file's type; `filename` names it.",
    )
    async def upload(
        request: Request,
        case_id: CaseId,
        caller: Caller,
        cases: Gateway,
        filename: Annotated[
            str, Query(min_length=1, max_length=LINE_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f/\\]+$")
        ] = "attachment",
    ) -> AttachmentRef:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not _valid_type(content_type):
            content_type = "application/octet-stream"
        content = await request.body()
        return await thread.upload(cases, case_id, caller, without_bidi(filename), content_type, content)

    return router


def _valid_type(content_type: str) -> bool:
    return re.fullmatch(CONTENT_TYPE, content_type) is not None

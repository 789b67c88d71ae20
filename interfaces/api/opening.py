"""The API's files given at opening: `POST /attachments` (upload first, name the id in the
opening's `attachments`), and `POST /cases` sent as multipart/form-data (a `request` part with
the JSON, `files` parts), which `MultipartOpening` turns into the JSON opening naming the files'
upload ids before routing: the one opening route, one validation, one idempotency rule.

Both run behind the guard (`application.guard.Guard`), which has bounded the body by its length
(`application.opening_files.body_limit`) before anything here reads it.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations.
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from adapters.settings import Settings
from application.cases import Forbidden, InvalidField
from application.guard import ASGIApp, Receive, Scope, Send, problem_body
from application.opening_files import (
    BadMultipart,
    FileTooLarge,
    GivenFile,
    Uploads,
    body_limit,
    read_multipart,
)
from support.case.actions import AttachmentRef
from support.identity.access import Principal
from support.rules.request import CaseRequest
from support.wording.text_shapes import LINE_MAX, TENANT_ID_PATTERN
from support.wording.validation import field_errors

CONTENT_TYPE = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$"

# POST /cases's multipart form, for the OpenAPI document (merged into the JSON body's).
MULTIPART_OPENING: dict[str, Any] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["request"],
                    "properties": {
                        "request": {"type": "string", "description": "the opening as JSON (CaseRequest)"},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            }
        }
    }
}


def _principal(request: Request) -> Principal:
    found: Principal = request.state.principal
    return found


def uploads_router(uploads: Uploads, responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/attachments",
        response_model=AttachmentRef,
        status_code=201,
        responses=responses,
        summary="Upload a file (the raw body) for an opening to name in `attachments`",
        description="Needs `open_case` (portal and phone keys, operators). The body is the file's "
        "bytes, its `Content-Type` the file's type; `filename` names it; `tenant` is the tenant the "
        "case will be opened for (a key of one tenant may leave it out). The id answered is good for "
        "a day, for that tenant only; the same file under the same name is the same id.",
    )
    async def upload(
        request: Request,
        caller: Annotated[Principal, Depends(_principal)],
        filename: Annotated[
            str, Query(min_length=1, max_length=LINE_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f/\\]+$")
        ] = "attachment",
        tenant: Annotated[str | None, Query(pattern=TENANT_ID_PATTERN)] = None,
    ) -> AttachmentRef:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not re.fullmatch(CONTENT_TYPE, content_type):
            content_type = "application/octet-stream"
        content = await request.body()
        try:
            return await uploads.upload(caller, tenant, GivenFile(filename, content_type, content))
        except FileTooLarge as error:
            raise HTTPException(413, str(error)) from None

    return router


async def _send_problem(
    send: Send, status: int, error: str, message: str, fields: list[dict[str, str]]
) -> None:
    body = json.loads(problem_body(error, message))
    body["fields"] = fields or None
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class MultipartOpening:
    """`POST /cases` as multipart/form-data: its files uploaded (as `POST /attachments` would),
    then the request passed on as the JSON opening that names them. Anything else passes as it is."""

    def __init__(self, app: ASGIApp, uploads: Uploads) -> None:
        self._app = app
        self._uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _multipart_opening(scope):
            await self._app(scope, receive, send)
            return
        body = bytearray()
        while True:
            try:
                message = await receive()  # the guard's: past its limit, BodyTooLarge
            except HTTPException as error:
                await _send_problem(send, error.status_code, "too_large", str(error.detail), [])
                return
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        principal: Principal = scope["state"]["principal"]
        try:
            opening = await self._opening(principal, content_type, bytes(body))
        except BadMultipart as error:
            await _send_problem(
                send,
                422,
                "invalid_input",
                "the request is not valid; see fields",
                [{"field": f"body.{error.field}", "message": str(error)}],
            )
            return
        except ValidationError as error:
            fields = [
                {"field": f"body.request.{e['field']}", "message": e["message"]} for e in field_errors(error)
            ]
            await _send_problem(send, 422, "invalid_input", "the request is not valid; see fields", fields)
            return
        except InvalidField as error:
            await _send_problem(
                send,
                422,
                "invalid_input",
                "the request is not valid; see fields",
                [{"field": f"{error.where}.{error.field}", "message": str(error)}],
            )
            return
        except FileTooLarge as error:
            await _send_problem(send, 413, "too_large", str(error), [])
            return
        except Forbidden as error:
            await _send_problem(send, 403, "forbidden", str(error), [])
            return
        raw = json.dumps(opening).encode()
        headers = [
            (k, v) for k, v in scope["headers"] if k.lower() not in (b"content-type", b"content-length")
        ]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        sent = False

        async def replayed() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self._app({**scope, "headers": headers}, replayed, send)

    async def _opening(self, principal: Principal, content_type: str, body: bytes) -> dict[str, Any]:
        try:
            fields, files = read_multipart(content_type, body, self._uploads.max_files)
        except (ValueError, TypeError, LookupError, UnicodeError) as error:
            if isinstance(error, BadMultipart):
                raise
            raise BadMultipart("body", "not a readable multipart/form-data body") from None
        if "request" not in fields:
            raise BadMultipart("request", "the multipart opening needs a `request` part (the JSON)")
        try:
            opening = json.loads(fields["request"])
        except ValueError:
            raise BadMultipart("request", "the `request` part is not JSON") from None
        if not isinstance(opening, dict):
            raise BadMultipart("request", "the `request` part is not a JSON object")
        tenant = opening.get("tenant_id")
        if not isinstance(tenant, str):
            raise BadMultipart("request.tenant_id", "required")
        named = opening.get("attachments", [])
        if not isinstance(named, list):
            raise BadMultipart("request.attachments", "a list of upload ids")
        if len(named) + len(files) > self._uploads.max_files:
            raise BadMultipart("files", f"at most {self._uploads.max_files} files a case at opening")
        CaseRequest.model_validate(opening | {"attachments": []})  # its own fields first: nothing kept
        for given in files:
            ref = await self._uploads.upload(principal, tenant, given)
            named.append(ref.attachment_id)
        return opening | {"attachments": named}


def _multipart_opening(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != "/cases":
        return False
    content_type: bytes = dict(scope.get("headers", [])).get(b"content-type", b"")
    return content_type.split(b";")[0].strip().lower() == b"multipart/form-data"


def larger_bodies(settings: Settings) -> Callable[[Scope], int | None]:
    """The guard's limit for the bodies that carry files given at opening (an upload, a multipart
    opening): one file for an upload, the files and the form for a multipart opening; None for
    every other request (the guard's own limit)."""
    limit = body_limit(settings)

    def larger(scope: Scope) -> int | None:
        if scope.get("method") == "POST" and scope.get("path") == "/attachments":
            return settings.inbound_max_attachment_bytes  # one file
        return limit if _multipart_opening(scope) else None

    return larger

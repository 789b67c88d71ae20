"""Files given at opening: uploaded first (`POST /attachments`, answering an id the opening then
names in `attachments`) or sent with the request itself (`POST /cases` as multipart/form-data: a
`request` part with the JSON and `files` parts). One code path for the API and the Contact form.

Bounded before parsing: the API's guard refuses a body over `body_limit` by its length (413);
then each file is at most CASEWORK_INBOUND_MAX_ATTACHMENT_BYTES (413, naming it) and an opening
names at most CASEWORK_INBOUND_MAX_ATTACHMENTS (422 on `attachments`), as a mailed reply's. The
files are kept through the attachment store (sealed at rest): an upload in its tenant's box
(`adapters.opening_uploads`), then, when the case is opened, once under the case's id (its
ids derive from the case and the file, so an opening sent again writes nothing new) and the
uploads are dropped.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine

from adapters.attachment_store import AttachmentStore
from adapters.codec import SealError, key_ring_from_env
from adapters.opening_uploads import OpeningUploads
from adapters.settings import Settings
from application.cases import Forbidden, InvalidField, Unavailable
from support.case.actions import AttachmentRef
from support.identity.access import Permission, Principal
from support.rules.request import CaseRequest
from support.wording.text_shapes import without_bidi

PENDING_PER_TENANT = 100  # uploads a tenant may have waiting for a case (a key cannot fill the disk)
FORM_FIELDS_BYTES = 256 * 1024  # a multipart opening's own fields (the request's JSON)


class FileTooLarge(ValueError):
    """A file over the per-file limit, or more waiting uploads than a tenant may have: 413."""


@dataclass(frozen=True)
class GivenFile:
    filename: str
    content_type: str
    content: bytes


def opening_hash(case_id: str) -> str:
    """What the case's opening files are kept under (the attachment store's message column)."""
    return hashlib.sha256(b"opening\x00" + case_id.encode()).hexdigest()


def body_limit(settings: Settings) -> int:
    """The largest body an opening with files (or an upload) may be: the files and the form."""
    return settings.inbound_max_attachments * settings.inbound_max_attachment_bytes + FORM_FIELDS_BYTES


class Uploads:
    """The intake's files given at opening (`application.cases.OpeningFiles`), over one database."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        keys = key_ring_from_env()
        self._uploads = OpeningUploads(engine, keys)
        self._store = AttachmentStore(engine, keys)
        self.max_files = settings.inbound_max_attachments
        self.max_bytes = settings.inbound_max_attachment_bytes

    async def upload(self, principal: Principal, tenant: str | None, given: GivenFile) -> AttachmentRef:
        """Keep a file for an opening of `tenant` to name (the key's one tenant when not given)."""
        tenant = _tenant_of(principal, tenant)
        if len(given.content) > self.max_bytes:
            raise FileTooLarge(
                f"{given.filename!r} is {len(given.content)} bytes: at most {self.max_bytes} a file"
            )
        count, _ = await asyncio.to_thread(self._uploads.held, tenant)
        if count >= PENDING_PER_TENANT:
            raise FileTooLarge(
                f"tenant {tenant} has {count} uploads no case has taken yet: open the case that names "
                "them first (an upload no case takes is dropped after a day)"
            )
        name = without_bidi(given.filename)
        return await asyncio.to_thread(
            self._uploads.keep, tenant, name, given.content_type, given.content, datetime.now(UTC)
        )

    async def claim(self, request: CaseRequest) -> list[AttachmentRef]:
        """The request's uploads, kept under its case id (the same opening again: the same rows)."""
        if len(request.attachments) > self.max_files:
            raise InvalidField("attachments", f"at most {self.max_files} files a case at opening")
        files = []
        now = datetime.now(UTC)
        for upload_id in request.attachments:
            try:
                found = await asyncio.to_thread(self._uploads.take, request.tenant_id, upload_id, now)
            except SealError as error:
                raise Unavailable("the uploads are sealed with a key this process does not have") from error
            if found is None:
                raise InvalidField(
                    "attachments",
                    f"{upload_id} is no upload of tenant {request.tenant_id} (or it is over a day old): "
                    "upload it again",
                )
            files.append((found.filename, found.content_type, found.content))
        return await asyncio.to_thread(
            self._store.store, request.case_id, request.tenant_id, opening_hash(request.case_id), files
        )

    async def used(self, request: CaseRequest) -> None:
        await asyncio.to_thread(self._uploads.drop, request.tenant_id, list(request.attachments))


async def with_files(
    uploads: Uploads, principal: Principal, request: CaseRequest, files: list[GivenFile]
) -> CaseRequest:
    """The request naming these files as uploads of its tenant (kept now; the opening takes them)."""
    if not files:
        return request
    if len(files) + len(request.attachments) > uploads.max_files:
        raise FileTooLarge(f"at most {uploads.max_files} files a case at opening")
    named = list(request.attachments)
    for given in files:
        named.append((await uploads.upload(principal, request.tenant_id, given)).attachment_id)
    return CaseRequest.model_validate(request.model_dump() | {"attachments": named})


def _tenant_of(principal: Principal, tenant: str | None) -> str:
    if not principal.allows(Permission.OPEN_CASE):
        raise Forbidden(f"a {principal.role.value} key cannot open cases, nor upload for them")
    if tenant is None:
        if principal.all_tenants or len(principal.tenants) != 1:
            raise InvalidField("tenant", "name the tenant the file is for", "query")
        return principal.tenants[0]
    if not principal.sees(tenant):
        raise Forbidden(f"this key cannot open cases for tenant {tenant}")
    return tenant


class BadMultipart(ValueError):
    """A multipart opening that cannot be read: 422 on `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_multipart(content_type: str, body: bytes, max_files: int) -> tuple[dict[str, str], list[GivenFile]]:
    """The form's text fields and its files (parts with a filename), with the stdlib's MIME parser
    over a body the guard has already bounded. More files than `max_files` is a 422 on `files`."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadMultipart("body", "not a multipart/form-data body")
    fields: dict[str, str] = {}
    files: list[GivenFile] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        if filename is not None:
            if not content and not filename:
                continue  # a file input left empty
            if len(files) == max_files:
                raise BadMultipart("files", f"at most {max_files} files a case at opening")
            files.append(
                GivenFile(_file_name(filename, len(files) + 1), _file_type(part.get_content_type()), content)
            )
        else:
            fields[name] = content.decode("utf-8", errors="replace")
    return fields, files


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")


def _file_name(given: str, number: int) -> str:
    """One line without control characters or a path (a browser may send one), at most 200
    characters; `attachment-<n>` when nothing is left."""
    name = _CONTROL.sub("_", re.split(r"[\\/]", given)[-1]).strip().strip(".")
    return without_bidi(name[:200]) or f"attachment-{number}"


def _file_type(given: str) -> str:
    kind = given.lower()
    return kind if _CONTENT_TYPE.fullmatch(kind) else "application/octet-stream"


def request_of(text: str) -> CaseRequest:
    """The multipart opening's `request` part (JSON); a ValidationError names the fields."""
    return CaseRequest.model_validate_json(text)


__all__ = [
    "BadMultipart",
    "FileTooLarge",
    "GivenFile",
    "Uploads",
    "ValidationError",
    "body_limit",
    "read_multipart",
]

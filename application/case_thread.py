"""The case's thread for its readers, and the customer's comment: one code path for the API, the
console and the CLI.

Reading: the principal must be able to read the case (another tenant's is not found); message 0
is the description from the case's input, the rest come from the database a page at a time, as
the reader may see them (`support.case.thread.for_reader`: no internal notes and no staff names for
the customer's side).

Writing: a comment from the portal (or the phone system) is the customer's reply, the same event
as a reply by email (`CustomerReply`, via portal): it answers what the engineer asked, the
obligations, and lands once: its message id is derived from the tenant and the request id, so the
same request id again is the same message (the case refuses a repeat as already received).
Attachments are named by the ids the attachments upload answered, and must be this case's.
"""

from __future__ import annotations

import asyncio
import hashlib
import re

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from adapters.attachment_store import AttachmentStore
from adapters.case_messages import MessageStore
from adapters.codec import SealError, key_ring_from_env
from application.cases import ActionRejected, Cases, Forbidden, InvalidField, Unavailable
from application.errors import TooManyFiles as TooManyFiles  # re-exported
from support.case.actions import ATTACHMENTS_PER_REPLY, MESSAGE_HASH_PATTERN, AttachmentRef, CustomerReply
from support.case.thread import BadCursor, after_cursor, cursor_after, description, for_reader
from support.case.thread_message import ThreadMessage, ThreadPage
from support.case.view import CaseView
from support.identity.access import Permission, Principal, Role
from support.policies.vocabulary import Channel, Via
from support.rules.customer_replies import ALREADY_RECEIVED
from support.wording.text_shapes import REQUEST_ID_PATTERN, Message


class Comment(BaseModel):
    """The customer writes to support (the portal's comment box, `POST /cases/{id}/messages`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: str = Field(
        pattern=REQUEST_ID_PATTERN, description="idempotency key: the same id again is the same message"
    )
    body: Message
    attachments: list[str] = Field(
        default_factory=list,
        max_length=ATTACHMENTS_PER_REPLY,
        description="ids answered by POST /cases/{case_id}/attachments",
    )


class Commented(BaseModel):
    created: bool = Field(description="false: this request id's message was already on the case")
    case: CaseView


def comment_id(tenant_id: str, request_id: str) -> str:
    """The comment's message id: the same request id of the same tenant is the same message."""
    return hashlib.sha256(f"portal-comment\x00{tenant_id}\x00{request_id}".encode()).hexdigest()


FILES_PER_CASE = 200  # files a case may hold: uploads stop there (a portal key cannot fill the disk)
BYTES_PER_CASE = 200 * 1024 * 1024


SEALED = (
    "the case's messages are sealed with a key this process does not have: set "
    "CASEWORK_ENCRYPTION_KEY (and CASEWORK_ENCRYPTION_PREVIOUS_KEYS) as the workers have them"
)


def thread_over(engine: Engine) -> CaseThread:
    """The thread over this database, sealed and opened with the environment's key ring (messages
    and files alike): the one way the API, the console and the CLI make it."""
    keys = key_ring_from_env()
    return CaseThread(MessageStore(engine, keys), AttachmentStore(engine, keys))


class CaseThread:
    def __init__(self, messages: MessageStore, attachments: AttachmentStore) -> None:
        self._messages = messages
        self._attachments = attachments

    async def page(
        self,
        cases: Cases,
        case_id: str,
        principal: Principal,
        cursor: str | None = None,
        limit: int = 50,
        shown: CaseView | None = None,
    ) -> ThreadPage:
        """One page of the thread, oldest first. `shown`: the case as `cases.show` just gave it to
        this principal (the console's page), so that a page reads the case once."""
        view = shown or await cases.show(case_id, principal)  # 403 / 404 as for the case itself
        case_id = view.case_id  # a case number (CW-10482) named the case
        try:
            after = after_cursor(cursor)
        except BadCursor as error:
            raise InvalidField("cursor", str(error), "query") from None
        found: list[ThreadMessage] = []
        if after < 0 and view.request is not None:
            via = Via.PHONE if view.channel == Channel.PHONE.value else Via.PORTAL
            at = view.opened_at or view.created_at
            found.append(description(view.case_id, view.tenant_id, view.request, at, via))
        try:
            stored, more = await self._messages.page(
                case_id, max(after, 0), limit - len(found), with_internal=not principal.customer_side
            )
        except SealError as error:  # no key for it, or moved from another case's row
            raise Unavailable(SEALED) from error
        found += stored
        return ThreadPage(
            messages=for_reader(
                found,
                principal.customer_side,
                cases.names() if cases.names is not None else None,
                view.language,
            ),
            next_cursor=cursor_after(found, limit, more),
        )

    async def comment(self, cases: Cases, case_id: str, principal: Principal, comment: Comment) -> Commented:
        if not principal.allows(Permission.CUSTOMER_ACTION):
            raise Forbidden(f"a {principal.role.value} key cannot write to support as the customer")
        tenant = await cases.scope(case_id, principal)
        case_id = await cases.case_id_of(case_id)  # a case number (CW-10482) named the case
        files = [await self._attached(case_id, tenant, ref) for ref in dict.fromkeys(comment.attachments)]
        reply = CustomerReply(
            message_id=comment_id(tenant, comment.request_id),
            sender=principal.name,
            body=comment.body,
            attachments=files,
            via=Via.PHONE if principal.role is Role.PHONE else Via.PORTAL,
        )
        before = await cases.show(case_id, principal)
        if reply.message_id in before.reply_ids:  # sent before (Temporal answers a repeated update id
            return Commented(created=False, case=before)  # with its first outcome, so ask first)
        try:
            await cases.receive_reply(case_id, reply)  # a receipt: the answer shows the case
        except ActionRejected as error:
            if not str(error).startswith(ALREADY_RECEIVED):
                raise
            return Commented(created=False, case=await cases.show(case_id, principal))
        return Commented(created=True, case=await cases.show(case_id, principal))

    async def _attached(self, case_id: str, tenant: str, attachment_id: str) -> AttachmentRef:
        stored = None
        if re.fullmatch(MESSAGE_HASH_PATTERN, attachment_id):
            try:
                stored = await asyncio.to_thread(self._attachments.get, case_id, attachment_id)
            except SealError as error:
                raise Unavailable(SEALED) from error
        if stored is None or stored.tenant_id != tenant:
            raise InvalidField("attachments", f"{attachment_id[:64]!r} is no attachment of this case")
        return AttachmentRef(
            attachment_id=attachment_id,
            filename=stored.filename,
            content_type=stored.content_type,
            size=len(stored.content),
        )

    async def upload(
        self,
        cases: Cases,
        case_id: str,
        principal: Principal,
        filename: str,
        content_type: str,
        content: bytes,
    ) -> AttachmentRef:
        """Keep a file for a comment to name; the same file under the same name is one attachment."""
        if not principal.allows(Permission.CUSTOMER_ACTION):
            raise Forbidden(f"a {principal.role.value} key cannot attach files as the customer")
        tenant = await cases.scope(case_id, principal)
        case_id = await cases.case_id_of(case_id)  # a case number (CW-10482) named the case
        count, size = await asyncio.to_thread(self._attachments.held, case_id)
        if count >= FILES_PER_CASE or size + len(content) > BYTES_PER_CASE:
            raise TooManyFiles(
                f"case {case_id} holds {count} files ({size} bytes): at most {FILES_PER_CASE} files and "
                f"{BYTES_PER_CASE} bytes a case; send a link to the rest, or open a new case"
            )
        digest = hashlib.sha256(b"upload\x00" + filename.encode() + b"\x00" + content).hexdigest()
        [ref] = await asyncio.to_thread(
            self._attachments.store, case_id, tenant, digest, [(filename, content_type, content)]
        )
        return ref

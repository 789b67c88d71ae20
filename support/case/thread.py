"""The case's thread: every message in both directions, in the case's own order (pure).

A message is an accepted action that carries someone's words: the engineer's response, updates,
requests, an obligation asked again and the resolution; the customer's replies (email or portal),
answers, reopen and withdrawal; internal notes (staff only). The machine numbers each one (`seq`,
the case's counter, carried across runs) when the case takes it, and asks the workflow to keep it
(`Keep`): the full text goes to the database, written once by an activity keyed on (case, seq),
and the case's state keeps only the counter and the timeline's excerpts, so it stays bounded
however long the thread grows. The opening description is message 0, read from the case's input.

Readers get the thread through `for_reader`: the customer's side never sees internal notes, and
sees staff as the support name (`shown_author`, the one rule for every front).
"""

from __future__ import annotations

from datetime import datetime

from support.case import actions
from support.case.actions import AttachmentRef
from support.case.effects import Decision
from support.case.record import CaseRecord
from support.case.thread_message import MessageKind, Role, ThreadMessage
from support.policies.vocabulary import Via
from support.rules.request import RequestDetails
from support.wording.names import Names, Reader, shown_name

# Cases that took messages before the thread was kept replay without writing them.
THREAD_PATCH = "thread-messages-kept"
PAGE_MAX = 200  # messages in one page of the thread
PAGE_DEFAULT = 50


def _staff(kind: MessageKind, engineer: str, body: str, via: Via | None, internal: bool = False) -> _Said:
    return _Said(kind, "staff", engineer, body, via or Via.API, internal)


class _Said:
    """What an action says, before the case numbers it."""

    def __init__(
        self,
        kind: MessageKind,
        role: Role,
        author: str,
        body: str,
        via: Via,
        internal: bool = False,
        about: str | None = None,
        attachments: list[AttachmentRef] | None = None,
    ) -> None:
        self.kind, self.role, self.author, self.body, self.via = kind, role, author, body, via
        self.internal, self.about, self.attachments = internal, about, attachments or []


def said(event: object) -> _Said | None:
    """The message an event carries, or None (time passing, a severity change, an assignment...)."""
    if isinstance(event, actions.FirstResponse):
        return _staff(MessageKind.RESPONSE, event.engineer, event.message, event.via)
    if isinstance(event, actions.CustomerUpdate):
        return _staff(MessageKind.UPDATE, event.engineer, event.message, event.via)
    if isinstance(event, actions.CustomerActionRequest):
        return _staff(MessageKind.REQUEST, event.engineer, event.what, event.via)
    if isinstance(event, actions.ObligationAskedAgain):
        found = _staff(MessageKind.ASKED_AGAIN, event.engineer, event.reason, event.via)
        found.about = event.request_id
        return found
    if isinstance(event, actions.Resolution):
        return _staff(MessageKind.RESOLUTION, event.engineer, event.summary, event.via)
    if isinstance(event, actions.InternalNote):
        return _staff(MessageKind.NOTE, event.engineer, event.note, event.via, internal=True)
    if isinstance(event, actions.CustomerReply):
        kind = MessageKind.REPLY if event.via in (None, Via.EMAIL) else MessageKind.COMMENT
        return _Said(
            kind, "customer", event.sender, event.body, event.via or Via.EMAIL, attachments=event.attachments
        )
    if isinstance(event, actions.Cooperation):
        return _Said(
            MessageKind.ANSWER,
            "customer",
            "customer",
            event.details,
            event.via or Via.API,
            about=event.request_id,
        )
    if isinstance(event, actions.ReopenRequest):
        return _Said(MessageKind.REOPEN, "customer", event.requester, event.reason, event.via or Via.API)
    if isinstance(event, actions.Withdrawal):
        return _Said(MessageKind.WITHDRAWAL, "customer", event.requester, event.reason, event.via or Via.API)
    return None


def numbered(words: _Said, case_id: str, tenant_id: str, seq: int, at: datetime) -> ThreadMessage:
    return ThreadMessage(
        case_id=case_id,
        tenant_id=tenant_id,
        seq=seq,
        at=at,
        kind=words.kind,
        role=words.role,
        author=words.author,
        via=words.via,
        internal=words.internal,
        about=words.about,
        body=words.body,
        attachments=words.attachments,
    )


def keep_message(case: CaseRecord, event: object, now: datetime, decision: Decision) -> None:
    """Number the message `event` carries and have the workflow keep it in full (cases that ran
    before the thread was kept replay without it)."""
    words = said(event)
    if words is None or not case.patched(THREAD_PATCH):
        return
    view = case.view
    view.messages += 1
    decision.keep(numbered(words, view.case_id, view.tenant_id, view.messages, now))


def description(
    case_id: str, tenant_id: str, details: RequestDetails, at: datetime, via: Via
) -> ThreadMessage:
    """Message 0: what the customer wrote when opening the case, with the files given then (from
    the case's input)."""
    return ThreadMessage(
        case_id=case_id,
        tenant_id=tenant_id,
        seq=0,
        at=at,
        kind=MessageKind.DESCRIPTION,
        role="customer",
        author=details.requester,
        via=via,
        body=details.description,
        attachments=list(details.attachments),
    )


def shown_author(
    message: ThreadMessage, customer_side: bool, names: Names | None = None, language: str = "en"
) -> str:
    """Who wrote `message`, as this reader may see it: staff by name to staff; to the customer's
    side by their display name or the support name in `language` (`support.wording.names`, the rule of
    every customer-facing view)."""
    if message.role == "staff" and customer_side:
        return shown_name(message.author, Reader.CUSTOMER, names or Names(), language)
    return message.author


def for_reader(
    messages: list[ThreadMessage], customer_side: bool, names: Names | None = None, language: str = "en"
) -> list[ThreadMessage]:
    """The messages this reader may see, with their authors as they may see them."""
    return [
        m.model_copy(update={"author": shown_author(m, customer_side, names, language)})
        for m in messages
        if not (customer_side and m.internal)
    ]


class BadCursor(ValueError):
    pass


def after_cursor(cursor: str | None) -> int:
    """The last seq the previous page ended with (-1: from the start)."""
    if cursor is None or cursor == "":
        return -1
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 12:
        raise BadCursor("not a cursor of this thread")
    return int(cursor)


def cursor_after(messages: list[ThreadMessage], limit: int, more: bool) -> str | None:
    return str(messages[-1].seq) if more and messages and limit > 0 else None

"""What casework does with a mail sent to a case's reply address: the routing decision behind
casework's own SMTP listener (`adapters.smtp_in`).

The address names its case by a token (`case+<token>@<reply domain>`), looked up among the tokens
the deliveries recorded in the shared database (`adapters.reply_addresses`), or, in mail sent
before the tokens, by the case id and its MAC (`case+<case-id>.<mac>@<reply domain>`).

Every mail gets a truthful SMTP answer, and none is attached silently or lost:

- 250: the reply is on the case (or already was: the same Message-ID again is one message); an
  automatic message (RFC 3834) is accepted and dropped, with a log line and a metric, never
  answered, so no two robots can loop through a case;
- 550 at RCPT: not a case's address, a token casework never sent, a wrong or missing MAC, or no
  such case, all with one text
  (`NO_SUCH_ADDRESS`), so the answer tells nobody which cases exist; 550 at DATA: a sender who is
  not a contact of the case's tenant, or a reply the case refuses (closed, say), with the case's
  reason; 552 a message or an attachment over the limits;
- 451 when the case cannot be reached right now (Temporal down), or refuses the reply for now (it
  is still being opened, or moving to a new run): the sending server keeps the mail and tries
  again, so a reply is never lost.

A reply longer than a message may be (`MESSAGE_MAX`) is kept whole: the case gets its beginning
and a note that it continues in the attachment `reply.txt`, which holds the full text.

Log lines carry the case id, the outcome and masked addresses, never a body.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.attachment_store import AttachmentStore
from adapters.directory_store import DirectoryStore
from adapters.logging import get_logger
from adapters.mail_reader import MailLimits, MailRefused, ReadMail, read_mail
from adapters.reply_addresses import ReplyAddresses
from adapters.temporal import TemporalUnavailable
from intake.cases import ActionRejected, CaseNotFound, OpenedCase, Unavailable
from support.actions import CustomerReply
from support.case_machine import MOVING_MARK
from support.case_record import CaseStart
from support.case_view import CaseView
from support.customer_replies import ALREADY_RECEIVED, STILL_OPENING
from support.inbound_mail import automatic_reason, case_id_of, message_hash, same_domain, token_of
from support.text import MESSAGE_MAX
from support.verification import mask
from workflows import search_attributes as sa

log = get_logger("casework.inbound_mail")


class ReplyGateway(Protocol):
    """The intake's gateway as the inbound mail uses it (`intake.cases.Cases`)."""

    @property
    def client(self) -> Client: ...

    async def receive_reply(self, case_id: str, reply: CustomerReply) -> CaseView: ...

    async def follow_up(self, case_id: str, reply: CustomerReply) -> OpenedCase | None: ...


@dataclass(frozen=True)
class SmtpAnswer:
    """The SMTP reply to a recipient or a message, and the outcome the metric counts."""

    code: int
    text: str
    outcome: str

    @property
    def line(self) -> str:
        text = re.sub(r"[^\x20-\x7e]+", " ", self.text).strip()[:300]  # one ASCII line
        return f"{self.code} {text}"


@dataclass(frozen=True)
class CaseAddresses:
    """What a case knows of who may write to it: its tenant and the addresses of its request."""

    tenant_id: str
    requester: str
    contact_email: str


# Temporal cannot be reached (the client's own connection errors are RuntimeErrors, as is Unavailable).
UNREACHABLE_ERRORS = (Unavailable, TemporalUnavailable, RPCError, TimeoutError, RuntimeError)
UNREACHABLE = SmtpAnswer(
    451, "4.3.0 the case cannot be reached right now; please try again later", "unavailable"
)
# One answer for an address that is no case's, has a token never sent, a wrong or no MAC, or names
# no case.
NO_SUCH_ADDRESS = SmtpAnswer(550, "5.1.1 no such case address", "not_a_case")
FULL_TEXT = "reply.txt"  # the attachment that holds a reply longer than MESSAGE_MAX
CONTINUED = "\n\n[... the reply continues in the attachment reply.txt]"


def _uncounted(outcome: str) -> None:
    return None


class InboundMail:
    """Decides each recipient and each message of the listener."""

    def __init__(
        self,
        cases: ReplyGateway,
        directory: DirectoryStore,
        store: AttachmentStore,
        reply_domain: str,
        limits: MailLimits,
        reply_key: bytes,
        replies: ReplyAddresses,
    ) -> None:
        """`count` (set by the composition root) is told each outcome: the metric
        `casework_inbound_mail` by outcome. `replies`: the reply tokens the deliveries recorded."""
        self._replies = replies
        self._cases = cases
        self._directory = directory
        self._store = store
        self._reply_domain = reply_domain
        self._limits = limits
        self._key = reply_key
        self.count: Callable[[str], None] = _uncounted

    async def case_of(self, address: str) -> str | None:
        """The case a recipient address names: by its token, recorded when casework sent it, or, in
        the form sent before tokens, by its case id with the right MAC. None for any other address.
        (A database that cannot be read raises: the listener answers 451, the sender tries again.)"""
        token = token_of(address, self._reply_domain)
        if token is not None:
            return await asyncio.to_thread(self._replies.case_for, token)
        return case_id_of(address, self._reply_domain, self._key)

    async def recipient(self, address: str) -> SmtpAnswer | None:
        """None to accept a recipient at RCPT; otherwise the refusal."""
        case_id = await self.case_of(address)
        if case_id is None:
            return NO_SUCH_ADDRESS
        try:
            await self._addresses(case_id)
        except CaseNotFound:
            return NO_SUCH_ADDRESS
        except UNREACHABLE_ERRORS as error:
            log.warning(
                "inbound recipient deferred: case unreachable", case_id=case_id, error=type(error).__name__
            )
            return UNREACHABLE
        return None

    async def message(self, envelope_sender: str, recipient: str, raw: bytes) -> SmtpAnswer:
        """The answer to one received mail for one case address (the listener takes one a message)."""
        answer = await self._message(envelope_sender, recipient, raw)
        self.count(answer.outcome)
        return answer

    async def _message(self, envelope_sender: str, recipient: str, raw: bytes) -> SmtpAnswer:
        case_id = await self.case_of(recipient)
        if case_id is None:  # the listener checked it at RCPT
            return NO_SUCH_ADDRESS
        try:
            mail = read_mail(raw, self._limits)
        except MailRefused as refused:
            log.info("inbound mail refused: over the limits", case_id=case_id, outcome="too_large")
            return SmtpAnswer(refused.code, str(refused), "too_large")
        automatic = automatic_reason(mail.headers, envelope_sender)
        if automatic is not None:
            log.info(
                "inbound mail dropped: automatic message, not answered (RFC 3834)",
                case_id=case_id,
                outcome="automatic",
                reason=automatic,
                sender=mask(envelope_sender) if envelope_sender else "<>",
            )
            return SmtpAnswer(250, "2.6.0 automatic message: accepted and not added to the case", "automatic")
        digest = message_hash(mail.message_id, raw)
        try:
            if await asyncio.to_thread(self._store.received, case_id, digest):
                return self._duplicate(case_id)
            addresses = await self._addresses(case_id)
            if not await self._belongs(addresses, mail.from_address, envelope_sender):
                log.info(
                    "inbound mail refused: sender not a contact of the case's tenant",
                    case_id=case_id,
                    outcome="stranger",
                    sender=mask(mail.from_address or envelope_sender),
                )
                return SmtpAnswer(
                    550,
                    "5.7.1 the sender is not a contact of this case's customer; write from the address "
                    "registered for your organisation",
                    "stranger",
                )
            return await self._land(case_id, addresses, digest, mail)
        except CaseNotFound:
            return NO_SUCH_ADDRESS
        except UNREACHABLE_ERRORS as error:
            log.warning(
                "inbound mail deferred: case unreachable", case_id=case_id, error=type(error).__name__
            )
            return UNREACHABLE

    async def _land(self, case_id: str, addresses: CaseAddresses, digest: str, mail: ReadMail) -> SmtpAnswer:
        body = mail.body.strip()
        if not body and not mail.attachments:
            return SmtpAnswer(550, "5.6.0 the reply has no text of its own above the quoted message", "empty")
        files = [(a.filename, a.content_type, a.content) for a in mail.attachments]
        if len(body) > MESSAGE_MAX:
            full = body.encode("utf-8")
            if len(full) > self._limits.max_attachment_bytes or len(files) >= self._limits.max_attachments:
                return SmtpAnswer(
                    552,
                    f"5.3.4 the reply's text is over {MESSAGE_MAX} characters and cannot be kept as the "
                    f"attachment {FULL_TEXT} (at most {self._limits.max_attachments} attachments of "
                    f"{self._limits.max_attachment_bytes} bytes); send it as a shorter reply or a file",
                    "too_large",
                )
            files.append((FULL_TEXT, "text/plain", full))
            body = body[: MESSAGE_MAX - len(CONTINUED)].rstrip() + CONTINUED
        refs = await asyncio.to_thread(self._store.store, case_id, addresses.tenant_id, digest, files)
        try:
            reply = CustomerReply(
                message_id=digest,
                sender=mask(mail.from_address),
                body=body or "(attachments only)",
                attachments=refs,
            )
        except ValidationError as error:
            await asyncio.to_thread(self._store.discard, case_id, digest)
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            return SmtpAnswer(550, f"5.6.0 the reply cannot be taken: {problem}", "invalid")
        try:
            taken = await self._cases.receive_reply(case_id, reply)
        except ActionRejected as rejected:
            reason = str(rejected)
            if reason.startswith(ALREADY_RECEIVED):
                await asyncio.to_thread(self._store.mark_received, case_id, digest)
                return self._duplicate(case_id)
            await asyncio.to_thread(self._store.discard, case_id, digest)
            if STILL_OPENING in reason or MOVING_MARK in reason:  # for now: the sender retries
                log.info(
                    "inbound mail deferred by the case", case_id=case_id, outcome="deferred", reason=reason
                )
                return SmtpAnswer(451, f"4.7.0 {reason}", "deferred")
            try:
                followed = await self._cases.follow_up(case_id, reply)  # closed: a new case follows it
            except (ValueError, PermissionError) as error:  # the new case cannot be opened: why
                log.info("inbound mail opened no follow-up", case_id=case_id, outcome="refused")
                return SmtpAnswer(550, f"5.7.1 {reason}; no new case could be opened: {error}", "refused")
            if followed is not None:
                new = followed.case
                log.info("inbound mail opened a follow-up case", case_id=case_id, outcome="follow_up")
                return SmtpAnswer(
                    250, f"2.0.0 case {case_id} is closed; opened case {new.ref} for this reply", "follow_up"
                )
            log.info("inbound mail refused by the case", case_id=case_id, outcome="refused", reason=reason)
            return SmtpAnswer(550, f"5.7.1 {reason}", "refused")
        listed = {a.attachment_id for a in taken.attachments}
        if refs and not all(ref.attachment_id in listed for ref in refs):
            # Taken as something that lists no attachments (the survey's answer): keep none of them.
            await asyncio.to_thread(self._store.discard, case_id, digest)
            refs = []
        await asyncio.to_thread(self._store.mark_received, case_id, digest)
        log.info(
            "inbound mail added to the case",
            case_id=case_id,
            outcome="accepted",
            sender=mask(mail.from_address),
            attachments=len(refs),
        )
        return SmtpAnswer(250, f"2.0.0 added to case {case_id}", "accepted")

    def _duplicate(self, case_id: str) -> SmtpAnswer:
        log.info("inbound mail already on the case", case_id=case_id, outcome="duplicate")
        return SmtpAnswer(250, f"2.0.0 already on case {case_id}", "duplicate")

    async def _belongs(self, case: CaseAddresses, from_address: str, envelope_sender: str) -> bool:
        """The From address is the requester's, the case's contact address, or one of the tenant's
        in the directory; the envelope sender is one of those too, or of the From's own domain (a
        mail system's bounce address, `bounces+x@contoso.example`)."""
        if not from_address or not await self._known(case, from_address):
            return False
        sender = envelope_sender.strip().strip("<>")
        return (
            sender.lower() == from_address.lower()
            or same_domain(sender, from_address)
            or (await self._known(case, sender))
        )

    async def _known(self, case: CaseAddresses, address: str) -> bool:
        lowered = address.strip().lower()
        if lowered in (case.requester.lower(), case.contact_email.lower()):
            return True
        return await asyncio.to_thread(self._directory.contact_belongs, case.tenant_id, lowered)

    async def _addresses(self, case_id: str) -> CaseAddresses:
        """The case's tenant (its search attribute) and its request's addresses (its start input,
        the first event of its current run: a case that continued as new carries its request)."""
        client = self._cases.client
        handle = client.get_workflow_handle(case_id)
        try:
            description = await handle.describe()
            tenant = description.typed_search_attributes.get(sa.TENANT_ID)
            if tenant is None:
                raise CaseNotFound(f"no case {case_id!r}")
            async for event in handle.fetch_history_events(page_size=1):
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [start] = await client.data_converter.decode(payloads, [CaseStart])
                assert isinstance(start, CaseStart)
                request = start.request
                return CaseAddresses(tenant, request.requester, request.contact_email)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise CaseNotFound(f"no case {case_id!r}") from None
            if error.status == RPCStatusCode.INVALID_ARGUMENT:
                raise CaseNotFound(f"no case {case_id!r}") from None
            raise Unavailable(f"Temporal did not answer for {case_id}") from None
        raise CaseNotFound(f"no case {case_id!r}")

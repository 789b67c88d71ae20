"""What casework does with a mail sent to a case's reply address: the routing decision behind
casework's own SMTP listener (`adapters.smtp_in`).

The address names its case by a token (`case+<token>@<reply domain>`), looked up among the tokens
the deliveries recorded in the shared database (`adapters.reply_addresses`), or, in mail sent
before the tokens, by the case id and its MAC (`case+<case-id>.<mac>@<reply domain>`).

Mail to a staff member's case address (`staff+<token>@<reply domain>`, the Reply-To of an
engineer's case mail) is that engineer's update, decided by `interfaces.mail_in.staff_mail`.

Every mail gets a truthful SMTP answer, and none is attached silently or lost:

- 250: the reply is on the case (or already was: the same Message-ID again is one message); an
  automatic message (RFC 3834) is accepted and dropped, with a log line and a metric, never
  answered, so no two robots can loop through a case; a mail that may be a robot's or a person's
  (`support.messaging.reply_addresses.mail_kind`) is accepted and held (`adapters.mail_quarantine`) until an
  operator releases it onto the case (`release`, `starter.py mail release ID`);
- 550 at RCPT: not a case's address, a token casework never sent, a wrong or missing MAC, or no
  such case, all with one text
  (`NO_SUCH_ADDRESS`), so the answer tells nobody which cases exist; 550 at DATA: a sender who is
  not a contact of the case's tenant, or a reply the case refuses (closed, say), with the case's
  reason; 552 a message or an attachment over the limits; 554 a mail that will never be read
  (more MIME parts, nesting or header fields than the limits, malformed, over its CPU bound);
- 451 when the case cannot be reached right now (Temporal down), or refuses the reply for now (it
  is still being opened, or moving to a new run): the sending server keeps the mail and tries
  again, so a reply is never lost.

A reply longer than a message may be (`MESSAGE_MAX`) is kept whole: the case gets its beginning
and a note that it continues in the attachment `reply.txt`, which holds the full text.

Checks come cheapest first, on the event loop: the address (at RCPT), the top header fields
alone (`read_head`: a robot's mail, the From), the duplicate, the sender; only then is the body
parsed, in a child process (`adapters.mail_reader_process`), so a hostile mail costs the loop
nothing but its bytes.

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
from adapters.mail_quarantine import MailQuarantine
from adapters.mail_reader import MailLimits, MailRefused, ReadMail, read_head
from adapters.mail_reader_process import ReaderUnavailable
from adapters.reply_addresses import ReplyAddresses
from adapters.settings import Settings
from adapters.temporal import TemporalUnavailable
from application.cases import ActionRejected, CaseNotFound, OpenedCase, Unavailable
from interfaces.mail_in.staff_mail import StaffReplies
from support.case.action_receipt import ActionReceipt
from support.case.actions import CustomerReply
from support.case.machine import MOVING_MARK
from support.case.record import CaseStart
from support.case.view import CaseView
from support.identity.verification import mask
from support.messaging.reply_addresses import (
    case_id_of,
    mail_kind,
    message_hash,
    same_domain,
    staff_token_of,
    token_of,
)
from support.rules.customer_replies import ALREADY_RECEIVED, STILL_OPENING
from support.wording.text_shapes import MESSAGE_MAX
from workflows import search_attributes as sa

log = get_logger("casework.inbound_mail")


class MailReader(Protocol):
    """Reads a mail's body (`adapters.mail_reader_process`): MailRefused for good, or
    ReaderUnavailable for now."""

    async def read(self, raw: bytes) -> ReadMail: ...

    async def close(self) -> None: ...


class ReleaseRefused(Exception):
    """A held mail that cannot be released: none with that id, or released already."""

    def __init__(self, text: str, found: bool = True) -> None:
        super().__init__(text)
        self.found = found


class ReplyGateway(Protocol):
    """The intake's gateway as the inbound mail uses it (`application.cases.Cases`)."""

    @property
    def client(self) -> Client: ...

    async def receive_reply(self, case_id: str, reply: CustomerReply) -> ActionReceipt: ...

    async def show(self, case_id: str) -> CaseView: ...

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
UNREADABLE_NOW = SmtpAnswer(
    451, "4.3.0 the mail cannot be read right now; please try again later", "unavailable"
)
HELD = SmtpAnswer(250, "2.6.0 accepted and held for review before it is added to the case", "held")
FULL_TEXT = "reply.txt"  # the attachment that holds a reply longer than MESSAGE_MAX
CONTINUED = "\n\n[... the reply continues in the attachment reply.txt]"


def _uncounted(outcome: str) -> None:
    return None


def mail_limits(settings: Settings) -> MailLimits:
    return MailLimits(
        max_attachment_bytes=settings.inbound_max_attachment_bytes,
        max_attachments=settings.inbound_max_attachments,
        max_parts=settings.inbound_max_parts,
        max_depth=settings.inbound_max_depth,
        max_headers=settings.inbound_max_headers,
    )


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
        reader: MailReader,
        quarantine: MailQuarantine,
    ) -> None:
        """`count` (set by the composition root) is told each outcome: the metric
        `casework_inbound_mail` by outcome. `replies`: the reply tokens the deliveries recorded;
        `reader` parses the bodies; `quarantine` holds doubtful mail (sealed with its key ring, when set)."""
        self._replies = replies
        self._reader = reader
        self._quarantine = quarantine
        self._cases = cases
        self._directory = directory
        self._store = store
        self._reply_domain = reply_domain
        self._limits = limits
        self._key = reply_key
        self.count: Callable[[str], None] = _uncounted
        self.staff_replies: StaffReplies | None = None  # engineers' replies (interfaces.mail_in.staff_mail)

    async def case_of(self, address: str) -> str | None:
        """The case a recipient address names: by its token, recorded when casework sent it, or, in
        the form sent before tokens, by its case id with the right MAC. None for any other address.
        (A database that cannot be read raises: the listener answers 451, the sender tries again.)"""
        token = token_of(address, self._reply_domain) or self._staff_token(address)
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
            head = read_head(raw, self._limits)
        except MailRefused as refused:
            return self._refused(case_id, refused)
        kind = mail_kind(head.headers, envelope_sender)
        if kind.kind == "robot":
            log.info(
                "inbound mail dropped: automatic message, not answered (RFC 3834)",
                case_id=case_id,
                outcome="automatic",
                reason=kind.reason,
                sender=mask(envelope_sender) if envelope_sender else "<>",
            )
            return SmtpAnswer(250, "2.6.0 automatic message: accepted and not added to the case", "automatic")
        digest = await asyncio.to_thread(message_hash, head.message_id, raw)  # (SHA-256 of 25 MiB, at worst)
        staff_token = self._staff_token(recipient)
        if staff_token is not None and self.staff_replies is not None:  # an engineer's reply
            try:
                code, text, outcome = await self.staff_replies.land(
                    case_id,
                    staff_token,
                    head.from_address,
                    envelope_sender,
                    digest,
                    lambda: self._reader.read(raw),
                )
            except ReaderUnavailable:
                return UNREADABLE_NOW
            except CaseNotFound:
                return NO_SUCH_ADDRESS
            except UNREACHABLE_ERRORS:
                return UNREACHABLE
            return SmtpAnswer(code, text, outcome)
        try:
            if await asyncio.to_thread(self._store.received, case_id, digest):
                return self._duplicate(case_id)
            addresses = await self._addresses(case_id)
            if not await self._belongs(addresses, head.from_address, envelope_sender):
                log.info(
                    "inbound mail refused: sender not a contact of the case's tenant",
                    case_id=case_id,
                    outcome="stranger",
                    sender=mask(head.from_address or envelope_sender),
                )
                return SmtpAnswer(
                    550,
                    "5.7.1 the sender is not a contact of this case's customer; write from the address "
                    "registered for your organisation",
                    "stranger",
                )
            try:
                mail = await self._reader.read(raw)
            except MailRefused as refused:
                return self._refused(case_id, refused)
            except ReaderUnavailable as error:
                log.warning("inbound mail deferred: it cannot be read now", case_id=case_id, error=str(error))
                return UNREADABLE_NOW
            if kind.kind == "doubtful":
                return await self._hold(case_id, addresses, digest, head.from_address, kind.reason, raw)
            return await self._land(case_id, addresses, digest, mail, head.from_address)
        except CaseNotFound:
            return NO_SUCH_ADDRESS
        except UNREACHABLE_ERRORS as error:
            log.warning(
                "inbound mail deferred: case unreachable", case_id=case_id, error=type(error).__name__
            )
            return UNREACHABLE

    def _staff_token(self, address: str) -> str | None:
        """The token of a staff member's case address, when staff replies are taken here."""
        return staff_token_of(address, self._reply_domain) if self.staff_replies is not None else None

    def _refused(self, case_id: str, refused: MailRefused) -> SmtpAnswer:
        """A mail over the limits (552) or one that will never be read (554), with its reason."""
        outcome = "too_large" if refused.code == 552 else "unreadable"
        log.info(
            "inbound mail refused: it cannot be read as it is",
            case_id=case_id,
            outcome=outcome,
            reason=str(refused),
        )
        return SmtpAnswer(refused.code, str(refused), outcome)

    async def _hold(
        self, case_id: str, addresses: CaseAddresses, digest: str, sender: str, reason: str, raw: bytes
    ) -> SmtpAnswer:
        """Keep a doubtful mail for an operator (`release`), sealed when the key ring is set."""
        hold = self._quarantine.hold
        held = await asyncio.to_thread(
            hold, case_id, addresses.tenant_id, digest, mask(sender), reason, len(raw), raw
        )
        log.warning(
            "inbound mail held for an operator: it may be automatic (starter.py mail quarantine)",
            case_id=case_id,
            outcome="held",
            reason=reason,
            quarantine_id=held,
            sender=mask(sender),
        )
        return HELD

    async def release(self, quarantine_id: int) -> SmtpAnswer:
        """Add a held mail to its case, once: the answer it gets (250 added, or already on the case;
        another answer leaves it held). Raises ReleaseRefused (no such mail, released already),
        SealError, a ValueError (sealed, and no key; or moved from another case), and what the
        case's gateway raises."""
        held = await asyncio.to_thread(self._quarantine.get, quarantine_id)
        if held is None:
            raise ReleaseRefused(f"no held mail {quarantine_id}", found=False)
        if held.released_at is not None or not await asyncio.to_thread(self._quarantine.claim, quarantine_id):
            raise ReleaseRefused(f"held mail {quarantine_id} was released already ({held.outcome or 'now'})")
        answer: SmtpAnswer | None = None
        try:
            raw = await asyncio.to_thread(self._quarantine.content, quarantine_id)
            head = read_head(raw, self._limits)
            mail = await self._reader.read(raw)
            if await asyncio.to_thread(self._store.received, held.case_id, held.message_hash):
                answer = self._duplicate(held.case_id)
            else:
                addresses = await self._addresses(held.case_id)
                answer = await self._land(held.case_id, addresses, held.message_hash, mail, head.from_address)
        except MailRefused as refused:
            answer = self._refused(held.case_id, refused)
        finally:
            landed = answer is not None and answer.code == 250
            outcome = answer.line if answer is not None else "not released: the case could not be reached"
            await asyncio.to_thread(self._quarantine.settle, quarantine_id, outcome, landed)
        assert answer is not None
        log.info(
            "held mail released", case_id=held.case_id, quarantine_id=quarantine_id, outcome=answer.outcome
        )
        return answer

    async def close(self) -> None:
        await self._reader.close()

    async def _land(
        self, case_id: str, addresses: CaseAddresses, digest: str, mail: ReadMail, sender: str
    ) -> SmtpAnswer:
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
                sender=mask(sender),
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
        # The case's answer is a receipt (issue 26): whether it listed the files is in its view.
        listed = (
            {a.attachment_id for a in (await self._cases.show(taken.case_id)).attachments} if refs else set()
        )
        if refs and not all(ref.attachment_id in listed for ref in refs):
            # Taken as something that lists no attachments (the survey's answer): keep none of them.
            await asyncio.to_thread(self._store.discard, case_id, digest)
            refs = []
        await asyncio.to_thread(self._store.mark_received, case_id, digest)
        log.info(
            "inbound mail added to the case",
            case_id=case_id,
            outcome="accepted",
            sender=mask(sender),
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

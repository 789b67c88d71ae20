"""A staff member's email reply to a case (issue 23): mail to `staff+<token>@<reply domain>`, the
Reply-To of the case's mail to an engineer, becomes that engineer's first response (while the
case awaits one) or update, as if given in the console, recorded in the thread with channel email.

A forged From is not enough. The token is bound to the case and to the staff member the mail was
sent to (`support.messaging.reply_addresses.staff_token`); the mail is taken only when the From address is
that member's address in the staff list (staff.toml, read on each mail) and the envelope sender
is that address or of its domain. Staff of the list work every tenant's cases (agent keys see
every tenant), so the member's being on the list is what lets them work the case's tenant.
Anything else is refused with an SMTP answer that says why, and changes nothing. Quoted text and
signatures are stripped as for customers (`adapters.mail_reader`); the mail's files are not
taken (an engineer attaches files in the console).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from adapters.attachment_store import AttachmentStore
from adapters.logging import get_logger
from adapters.mail_reader import MailRefused, ReadMail
from adapters.staff import StaffFileError, load_staff
from application.cases import ActionRejected, InvalidField
from support.case.action_receipt import ActionReceipt
from support.case.actions import CustomerUpdate, FirstResponse
from support.case.machine import MOVING_MARK
from support.case.view import CaseView
from support.identity.verification import mask
from support.messaging.reply_addresses import same_domain, staff_token
from support.policies.vocabulary import CaseStatus, Via
from support.rules.customer_replies import STILL_OPENING
from support.wording.text_shapes import MESSAGE_MAX

log = get_logger("casework.staff_mail")


@runtime_checkable
class StaffGateway(Protocol):
    """What a staff reply needs of the intake's gateway (`application.cases.Cases`)."""

    async def show(self, case_id: str) -> CaseView: ...

    async def act(self, case_id: str, action: BaseModel) -> ActionReceipt: ...


NOT_THEIRS = (
    "5.7.1 this case address takes replies only from the staff member it was sent to, from their "
    "address in the staff list; act on the case in the console"
)


class StaffReplies:
    def __init__(self, cases: StaffGateway, staff_file: Path, key: bytes, store: AttachmentStore) -> None:
        self._cases = cases
        self._staff_file = staff_file
        self._key = key
        self._store = store  # which mails a case took (one mail is one update)

    async def engineer(self, case_id: str, token: str, from_address: str, envelope_sender: str) -> str | None:
        """The staff member the token was sent to, when the mail is from their listed address."""
        try:
            staff = await asyncio.to_thread(load_staff, self._staff_file)
        except StaffFileError:
            return None
        sender = envelope_sender.strip().strip("<>")
        for member in staff.staff:
            if member.email.lower() != from_address.strip().lower():
                continue
            if not hmac.compare_digest(staff_token(case_id, member.name, self._key), token):
                continue
            if sender.lower() == member.email.lower() or same_domain(sender, member.email):
                return member.name
        return None

    async def land(
        self,
        case_id: str,
        token: str,
        from_address: str,
        envelope_sender: str,
        digest: str,
        read: Callable[[], Awaitable[ReadMail]],
    ) -> tuple[int, str, str]:
        """(SMTP code, text, outcome) for one staff mail to the case's staff address."""
        name = await self.engineer(case_id, token, from_address, envelope_sender)
        if name is None:
            log.info(
                "staff mail refused: not the staff member it was sent to",
                case_id=case_id,
                outcome="not_staff",
                sender=mask(from_address or envelope_sender),
            )
            return 550, NOT_THEIRS, "not_staff"
        if await asyncio.to_thread(self._store.received, case_id, digest):
            return 250, f"2.0.0 already on case {case_id}", "duplicate"
        try:
            mail = await read()
        except MailRefused as refused:
            return refused.code, str(refused), "unreadable"
        body = mail.body.strip()
        if not body:
            return 550, "5.6.0 the mail has no text of its own above the quoted message", "empty"
        if len(body) > MESSAGE_MAX:
            return 552, f"5.3.4 an update is at most {MESSAGE_MAX} characters; shorten it", "too_large"
        view = await self._cases.show(case_id)
        try:
            if view.status is CaseStatus.AWAITING_FIRST_RESPONSE:
                await self._cases.act(case_id, FirstResponse(engineer=name, message=body, via=Via.EMAIL))
                what = "first response"
            else:
                await self._cases.act(case_id, CustomerUpdate(engineer=name, message=body, via=Via.EMAIL))
                what = "update"
        except ActionRejected as rejected:
            reason = str(rejected)
            if STILL_OPENING in reason or MOVING_MARK in reason:
                return 451, f"4.7.0 {reason}", "deferred"
            log.info("staff mail refused by the case", case_id=case_id, outcome="refused", reason=reason)
            return 550, f"5.7.1 {reason}", "refused"
        except InvalidField as error:
            return 550, f"5.7.1 {error}", "refused"
        await asyncio.to_thread(self._store.mark_received, case_id, digest)
        log.info("staff mail taken as the engineer's " + what, case_id=case_id, outcome="staff_update")
        return 250, f"2.0.0 your {what} is on case {case_id}", "staff_update"

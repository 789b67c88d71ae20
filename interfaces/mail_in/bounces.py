"""Delivery reports for casework's own mail: what the inbound listener does with mail to a
notification's envelope sender, `bounce+<token>@<reply domain>` (VERP, `support.messaging.reply_addresses`).

Customer mail goes out from such an address, its token recorded with its notification before it
goes (`adapters.bounce_addresses`), so a delivery status notification (RFC 3464) that a mail server
sends back, after the relay had taken the mail, is tied to its notification and case:

- RCPT: a token casework never sent is refused like any address that is no case's (550, one text:
  a forged report is refused in the sender's own session, never bounced to anyone);
- DATA: the report is read in a child process like every received mail (its report part only,
  bounded: `adapters.delivery_report`); a report that the mail failed marks the notification failed
  on its case with the remote server's text (`SupportCaseWorkflow.notification_bounced`: the case's
  failed notifications, its timeline, the assignee told, the contact-data obligation not met),
  once: a second report for the token is accepted and changes nothing. A report of a delay or of a
  delivery, or a mail that is no report (an out-of-office answer to the envelope sender), is
  accepted and dropped, with a log line; the case cannot be reached: 451, the reporting server
  tries again, so a bounce is never lost.

`WithBounces` puts this in front of the replies' routing (`interfaces.mail_in.routing.InboundMail`).
Log lines carry ids and outcomes, never an address or a report's text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from adapters.bounce_addresses import BounceAddresses, BounceRecord
from adapters.delivery_report import DeliveryReport
from adapters.logging import get_logger
from adapters.mail_reader import MailRefused
from adapters.mail_reader_process import ReaderUnavailable
from interfaces.mail_in.routing import NO_SUCH_ADDRESS, UNREACHABLE, UNREADABLE_NOW, SmtpAnswer
from support.case.events import DeliveryFailed
from support.case.machine import ALREADY_FAILED, MOVING_MARK
from support.messaging.notifications import Audience, Notification, template_for
from support.messaging.reply_addresses import bounce_token_of
from workflows.support_case import SupportCaseWorkflow

log = get_logger("casework.bounces")


# How long a report waits for its case (the sending server is told 451 after it, and sends again).
BOUNCE_WAIT = timedelta(seconds=15)


class ReportReader(Protocol):
    """Reads a delivery report (`adapters.mail_reader_process.MailReaders.report`)."""

    async def report(self, raw: bytes) -> DeliveryReport: ...


class Gateway(Protocol):
    """The intake's gateway (`application.cases.Cases`): its Temporal client, asked when a report comes."""

    @property
    def client(self) -> Client: ...


class Routing(Protocol):
    """The replies' routing (`interfaces.mail_in.routing.InboundMail`), as `adapters.smtp_in` uses it."""

    async def recipient(self, address: str) -> SmtpAnswer | None: ...

    async def message(self, envelope_sender: str, recipient: str, raw: bytes) -> SmtpAnswer: ...

    async def close(self) -> None: ...


def _uncounted(outcome: str) -> None:
    return None


class Bounces:
    """Decides the recipients and messages for bounce addresses."""

    def __init__(
        self, cases: Gateway, addresses: BounceAddresses, reader: ReportReader, reply_domain: str
    ) -> None:
        self._cases = cases
        self._addresses = addresses
        self._reader = reader
        self._reply_domain = reply_domain
        self.count: Callable[[str], None] = _uncounted

    def token(self, address: str) -> str | None:
        """The token of a bounce address of this installation, or None for any other address."""
        return bounce_token_of(address, self._reply_domain)

    async def recipient(self, token: str) -> SmtpAnswer | None:
        """None (accepted) for a recorded token, else the answer to any address that is no case's."""
        found = await asyncio.to_thread(self._addresses.find, token)
        return None if found is not None else NO_SUCH_ADDRESS

    async def message(self, token: str, raw: bytes, envelope_sender: str = "") -> SmtpAnswer:
        """A delivery report comes from the null sender (RFC 3464, RFC 5321 4.5.5): anything else
        sent to a bounce address (a person who read the Return-Path, a forged report) is dropped,
        so a recipient cannot mark their own mail failed and cost the case its contact data."""
        if envelope_sender.strip().strip("<>"):
            self.count("bounce_ignored")
            log.info("mail to a bounce address dropped: not from the null sender", outcome="bounce_ignored")
            return SmtpAnswer(
                250, "2.6.0 accepted: delivery reports come from the null sender", "bounce_ignored"
            )
        answer = await self._message(token, raw)
        self.count(answer.outcome)
        return answer

    async def _message(self, token: str, raw: bytes) -> SmtpAnswer:
        found = await asyncio.to_thread(self._addresses.find, token)
        if found is None:
            return NO_SUCH_ADDRESS
        if found.bounced_at is not None:
            return self._already(found)
        try:
            report = await self._reader.report(raw)
        except MailRefused as refused:
            log.info("bounce report unreadable: dropped", case_id=found.case_id, outcome="bounce_unreadable")
            return SmtpAnswer(refused.code, str(refused), "bounce_unreadable")
        except ReaderUnavailable as error:
            log.warning(
                "bounce report deferred: it cannot be read now", case_id=found.case_id, error=str(error)
            )
            return UNREADABLE_NOW
        if not report.failed:
            log.info(
                "mail to a bounce address dropped: not a report of a failure",
                case_id=found.case_id,
                notification_id=found.notification_id,
                outcome="bounce_ignored",
                action=report.action or "not a delivery report",
            )
            return SmtpAnswer(250, "2.6.0 accepted: not a report of a failed delivery", "bounce_ignored")
        reason = f"bounced after it was sent: {report.diagnostic or report.status or 'no reason given'}"
        failed = DeliveryFailed(notification=_notification(found), reason=reason)
        try:
            await self._cases.client.get_workflow_handle(found.case_id).execute_update(
                SupportCaseWorkflow.notification_bounced,
                failed,
                id=f"bounce-{token}",
                rpc_timeout=BOUNCE_WAIT,
            )
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            refusal = cause.message if isinstance(cause, FailureError) else str(cause or error)
            if refusal == ALREADY_FAILED:
                await asyncio.to_thread(self._addresses.mark_bounced, token, report.diagnostic)
                return self._already(found)
            if MOVING_MARK in refusal:
                return UNREACHABLE
            log.warning(
                "bounce refused by the case", case_id=found.case_id, outcome="bounce_refused", reason=refusal
            )
            return SmtpAnswer(250, "2.6.0 accepted: the case takes no bounce now", "bounce_refused")
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:  # the case is over: its record is archived
                await asyncio.to_thread(self._addresses.mark_bounced, token, report.diagnostic)
                log.warning(
                    "bounce for a case that has ended: recorded with its address only",
                    case_id=found.case_id,
                    notification_id=found.notification_id,
                    outcome="bounce_case_ended",
                )
                return SmtpAnswer(250, "2.6.0 accepted: the case has ended", "bounce_case_ended")
            log.warning(
                "bounce deferred: case unreachable", case_id=found.case_id, error=type(error).__name__
            )
            return UNREACHABLE
        except (TimeoutError, RuntimeError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            log.warning(
                "bounce deferred: case unreachable", case_id=found.case_id, error=type(error).__name__
            )
            return UNREACHABLE
        await asyncio.to_thread(self._addresses.mark_bounced, token, report.diagnostic)
        log.warning(
            "notification bounced: marked failed on the case",
            case_id=found.case_id,
            notification_id=found.notification_id,
            outcome="bounced",
            status=report.status,
        )
        return SmtpAnswer(250, f"2.0.0 bounce recorded on case {found.case_id}", "bounced")

    def _already(self, found: BounceRecord) -> SmtpAnswer:
        log.info(
            "bounce already recorded",
            case_id=found.case_id,
            notification_id=found.notification_id,
            outcome="bounce_duplicate",
        )
        return SmtpAnswer(250, "2.0.0 bounce already recorded", "bounce_duplicate")


def _notification(found: BounceRecord) -> Notification:
    """The notification a bounce is for, as the case's failure path reads it (its id, event and
    audience; the addresses are not needed, and not kept)."""
    return Notification(
        notification_id=found.notification_id,
        case_id=found.case_id,
        event=found.event,
        template=template_for(found.event),
        audience=Audience(found.audience),
        time_zone="UTC",
    )


class WithBounces:
    """The listener's routing: bounce addresses decided by `bounces`, every other by `mail`."""

    def __init__(self, mail: Routing, bounces: Bounces) -> None:
        self._mail = mail
        self._bounces = bounces

    async def recipient(self, address: str) -> SmtpAnswer | None:
        token = self._bounces.token(address)
        if token is not None:
            return await self._bounces.recipient(token)
        return await self._mail.recipient(address)

    async def message(self, envelope_sender: str, recipient: str, raw: bytes) -> SmtpAnswer:
        token = self._bounces.token(recipient)
        if token is not None:
            return await self._bounces.message(token, raw, envelope_sender)
        return await self._mail.message(envelope_sender, recipient, raw)

    async def close(self) -> None:
        await self._mail.close()

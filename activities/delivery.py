"""Deliver a notification: email over SMTP (adapters/smtp_out.py), or a signed JSON webhook
(adapters/webhooks.py), exactly once per id.

Webhooks are signed over the time of sending and the body (`X-Casework-Signature: t=..,v1=..`,
support/webhook_signature.py) with a secret the worker refuses to start without. An engineer is
reached at the staff list's address for their name, or else through the support queue.

The audience's routes are tried in order (the customer's preferred method first). The ledger in
the database is checked before and written after each delivery, so a retried or re-run activity
never sends what already went out. A transient failure (server down, timeout, 4xx SMTP, HTTP 5xx,
408, 429) raises and Temporal retries with backoff; a permanent one (5xx SMTP, other HTTP 4xx,
a template error) is recorded and the next route is tried; when none is left the activity fails
for good and the case shows it. Logs carry ids only: never addresses, codes or message text.

Each email to the customer's side replies to its case's address, `case+<token>@<reply domain>`; the
token is recorded with the case in the shared database (adapters/reply_addresses.py) before the
email goes out. Staff mail has no customer Reply-To (adapters/smtp_out.py `case_email`); an
engineer's replies to an address bound to the case and to them (`intake.staff_mail`). Customer mail goes
out from an envelope sender of its own, `bounce+<token>@<reply domain>` (VERP; the token recorded
with its notification in adapters/bounce_addresses.py first), so a mail server's later report that
it could not deliver it is tied to the notification (intake/bounces.py).

Emails go over a few SMTP connections kept open and reused from one delivery to the next
(adapters/smtp_out.py SmtpPool), webhooks over one HTTP client; `close()` ends them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.bounce_addresses import BounceAddresses
from adapters.delivery_ledger import DeliveryLedger, LedgerEntry
from adapters.messages import Message, Renderer, TemplateError
from adapters.outbound import PermanentFailure, TransientFailure
from adapters.reply_addresses import ReplyAddresses
from adapters.smtp_out import SmtpPool, SmtpServer, case_email
from adapters.webhooks import WebhookClient
from support.inbound_mail import (
    bounce_address,
    bounce_token,
    reply_token,
    staff_reply_address,
    staff_token,
    tenant_of_case,
)
from support.notifications import Audience, DeliveryReceipt, Notification, urgency
from support.routing import Addresses, Route, routes


@dataclass(frozen=True)
class DeliveryConfig:
    smtp_host: str
    smtp_port: int
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "casework support <support@casework.example>"
    reply_to_domain: str = "support.casework.example"
    # The key of the case addresses' tokens (support.inbound_mail.reply_key): the listener's too,
    # which checks the MACs of the addresses sent before the tokens with it.
    reply_key: bytes = field(default=b"", repr=False)
    support_queue_email: str = "support-queue@casework.example"
    duty_manager_email: str = "duty-manager@casework.example"
    staff: Mapping[str, str] = field(default_factory=dict)  # engineer name -> email (the staff list)
    staff_languages: Mapping[str, str] = field(default_factory=dict)  # engineer name -> language, if given
    staff_display_names: Mapping[str, str] = field(default_factory=dict)  # what customers read, if given
    support_queue_webhook: str | None = None
    escalation_webhook: str | None = None
    sms_webhook: str | None = None
    webhook_secret: str = ""
    timeout_seconds: float = 15.0
    smtp_connections: int = 8  # at most this many open to the SMTP server, reused between emails
    smtp_helo_name: str = ""  # the EHLO name; '' for the machine's fully qualified name

    @property
    def addresses(self) -> Addresses:
        return Addresses(
            support_queue_email=self.support_queue_email,
            duty_manager_email=self.duty_manager_email,
            staff=self.staff,
            support_queue_webhook=self.support_queue_webhook,
            escalation_webhook=self.escalation_webhook,
            sms_webhook=self.sms_webhook,
        )

    @property
    def smtp_server(self) -> SmtpServer:
        return SmtpServer(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password,
            timeout_seconds=self.timeout_seconds,
            helo_name=self.smtp_helo_name,
        )


_REMEMBERED_MAX = 10_000  # tokens a delivery worker keeps in mind as recorded


class DeliveryActivities:
    """The delivery activity. It keeps SMTP connections (a pool, adapters/smtp_out.py) and an HTTP
    client open between deliveries: `await close()` (or `async with`) when the worker is done."""

    def __init__(
        self,
        config: DeliveryConfig,
        ledger: DeliveryLedger,
        renderer: Renderer,
        replies: ReplyAddresses | None = None,
    ) -> None:
        """`replies`: where each email's reply address is recorded before it goes out (by default
        in the ledger's database, which every worker and inbound listener shares)."""
        self._config = config
        self._ledger = ledger
        self._renderer = renderer
        self._replies = replies if replies is not None else ReplyAddresses(ledger.engine)
        self._bounces = BounceAddresses(self._replies.engine)
        self._remembered: dict[str, None] = {}  # tokens this process recorded (the latest, bounded)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._smtp: SmtpPool | None = None
        self._webhooks: WebhookClient | None = None

    async def __aenter__(self) -> DeliveryActivities:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the SMTP connections and the HTTP client kept between deliveries. A delivery
        after this opens new ones."""
        smtp, webhooks = self._smtp, self._webhooks
        self._smtp = self._webhooks = None
        if smtp is not None:
            await smtp.close()
        if webhooks is not None:
            await webhooks.close()

    @activity.defn(name="deliver_notification")
    async def deliver_notification(self, notification: Notification) -> DeliveryReceipt:
        return await self.deliver(notification)

    async def deliver(self, notification: Notification) -> DeliveryReceipt:
        n = notification
        already = await asyncio.to_thread(self._ledger.delivered, n.notification_id)
        if already is not None:
            self._log("already delivered", n, already)
            return DeliveryReceipt(notification_id=n.notification_id, channel=already, duplicate=True)
        try:
            message = self._renderer.render(self._in_recipients_language(n))
        except TemplateError as error:
            await self._record(self._entry(n, "template", "failed", str(error)))
            raise ApplicationError(str(error), type="TemplateError", non_retryable=True) from None
        problems: list[str] = []
        refusals: list[LedgerEntry] = []  # recorded with the outcome, in one transaction
        try:
            for route in routes(n, self._config.addresses):
                try:
                    await self._send(route, n, message)
                except PermanentFailure as failure:
                    problems.append(f"{route.channel}: {failure}")
                    refusals.append(self._entry(n, route.channel, "failed", str(failure)))
                    self._log("route refused the message permanently", n, route.channel)
                    continue
                entries, refusals = [*refusals, self._entry(n, route.channel, "sent", "")], []
                await self._record(*entries)
                await self._after_delivery(n)
                self._log("delivered", n, route.channel)
                return DeliveryReceipt(
                    notification_id=n.notification_id, channel=route.channel, duplicate=False
                )
        finally:  # no route left, or a transient failure on the next one: the refusals still count
            if refusals:
                await self._record(*refusals)
        reason = "; ".join(problems) or f"no route configured for {n.audience.value}"
        activity.logger.error(
            "notification permanently failed",
            extra={
                "notification_id": n.notification_id,
                "notification_event": n.event,
                "audience": n.audience.value,
            },
        )
        raise ApplicationError(reason, type="DeliveryFailed", non_retryable=True)

    def _in_recipients_language(self, n: Notification) -> Notification:
        """An engineer listed with a language reads it; everyone else the notification's."""
        language = self._config.staff_languages.get(n.engineer or "")
        if n.audience is Audience.ENGINEER and language:
            return n.model_copy(update={"language": language})
        return n

    async def _after_delivery(self, notification: Notification) -> None:
        """Between a delivery and its completion; tests use it to stop a worker right there."""

    @staticmethod
    def _entry(n: Notification, channel: str, status: str, detail: str) -> LedgerEntry:
        return LedgerEntry(n.notification_id, n.case_id, n.event, channel, status, detail)

    async def _record(self, *entries: LedgerEntry) -> None:
        await asyncio.to_thread(self._ledger.record_all, entries)

    def _bound_to_this_loop(self) -> None:
        """Connections belong to the event loop that opened them: in another loop (a second
        asyncio.run) the instance starts afresh; the old loop's connections are left behind."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._smtp, self._webhooks = loop, None, None

    def _smtp_pool(self) -> SmtpPool:
        self._bound_to_this_loop()
        if self._smtp is None:
            self._smtp = SmtpPool(self._config.smtp_server, size=self._config.smtp_connections)
        return self._smtp

    def _webhook_client(self) -> WebhookClient:
        self._bound_to_this_loop()
        if self._webhooks is None:
            self._webhooks = WebhookClient()
        return self._webhooks

    def _log(self, what: str, n: Notification, channel: str) -> None:
        activity.logger.info(
            what,
            extra={
                "notification_id": n.notification_id,
                "notification_event": n.event,
                "audience": n.audience.value,
                "channel": channel,
            },
        )

    async def _send(self, route: Route, n: Notification, message: Message) -> None:
        """Over the route's adapter; a transient failure raises for Temporal to retry with backoff."""
        try:
            if route.channel == "email":
                await self._send_email(route.target, n, message)
            else:
                await self._post(route, n, message)
        except TransientFailure as failure:
            raise ApplicationError(str(failure), type=failure.kind) from None

    async def _send_email(self, address: str, n: Notification, message: Message) -> None:
        config = self._config
        to_staff = not n.audience.customer_side
        envelope_from = None  # staff mail: the From address
        if not to_staff:
            await self._remember_reply_address(n.case_id)
            envelope_from = await self._bounce_address(n)
        staff_reply_to = await self._staff_reply_address(n, address) if to_staff else None
        email = case_email(
            message,
            mail_from=config.mail_from,
            to=address,
            case_id=n.case_id,
            notification_id=n.notification_id,
            reply_to_domain=config.reply_to_domain,
            reply_key=config.reply_key,
            to_staff=to_staff,
            staff_reply_to=staff_reply_to,
        )
        priority = urgency(n.event, n.audience)
        await self._smtp_pool().send(email, priority=priority, envelope_from=envelope_from)

    async def _bounce_address(self, n: Notification) -> str:
        """The notification's envelope sender, `bounce+<token>@<reply domain>` (VERP), its token
        recorded before the mail goes out: a mail server's later report that it could not deliver
        the mail comes back to it and is tied to this notification (intake.bounces)."""
        key, domain = self._config.reply_key, self._config.reply_to_domain
        token = bounce_token(n.notification_id, key)
        remember = self._bounces.remember
        await asyncio.to_thread(remember, token, n.notification_id, n.case_id, n.event, n.audience.value)
        return bounce_address(n.notification_id, domain, key)

    async def _staff_reply_address(self, n: Notification, address: str) -> str | None:
        """An engineer's mail replies to an address bound to the case and to them (its token
        recorded first, as a customer's); the queue's and the managers' mail to none."""
        engineer = n.engineer or ""
        listed = self._config.staff.get(engineer, "")
        if n.audience is not Audience.ENGINEER or not listed or listed.lower() != address.lower():
            return None
        key = self._config.reply_key
        token = staff_token(n.case_id, engineer, key)
        await asyncio.to_thread(self._replies.remember, token, n.case_id, tenant_of_case(n.case_id))
        return staff_reply_address(n.case_id, engineer, self._config.reply_to_domain, key)

    async def _remember_reply_address(self, case_id: str) -> None:
        """Record the case's reply token (the email's Reply-To) before the email goes out, so a
        reply reaching any listener finds the case; once per case and process is enough (the row
        is never removed), written again harmlessly by other workers and after a restart."""
        token = reply_token(case_id, self._config.reply_key)
        if token in self._remembered:
            return
        await asyncio.to_thread(self._replies.remember, token, case_id, tenant_of_case(case_id))
        self._remembered[token] = None
        if len(self._remembered) > _REMEMBERED_MAX:
            del self._remembered[next(iter(self._remembered))]

    async def _post(self, route: Route, n: Notification, message: Message) -> None:
        payload: dict[str, object] = {
            "notification_id": n.notification_id,
            "case_id": n.case_id,
            "event": n.event,
            "audience": n.audience.value,
            "subject": message.subject,
            "text": message.text,
        }
        if route.channel == "sms":
            payload |= {"to": route.to}
        else:
            payload |= {
                "facts": n.facts,
                "times": {k: v.isoformat() for k, v in n.times.items()},
                "reasons": {k: [r.model_dump(mode="json") for r in v] for k, v in n.reasons.items()},
            }
        await self._webhook_client().post_signed(
            route.target,
            payload,
            secret=self._config.webhook_secret,
            idempotency_key=n.notification_id,
            event=n.event,
            timeout_seconds=self._config.timeout_seconds,
        )

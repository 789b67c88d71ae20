"""Deliver a notification: email over SMTP, or a signed JSON webhook, exactly once per id.

Webhooks are signed over the time of sending and the body (`X-Casework-Signature: t=..,v1=..`,
support/webhook_signature.py) with a secret the worker refuses to start without. An engineer is
reached at the staff list's address for their name, or else through the support queue.

The audience's routes are tried in order (the customer's preferred method first). The ledger in
the database is checked before and written after each delivery, so a retried or re-run activity
never sends what already went out. A transient failure (server down, timeout, 4xx SMTP, HTTP 5xx,
408, 429) raises and Temporal retries with backoff; a permanent one (5xx SMTP, other HTTP 4xx,
a template error) is recorded and the next route is tried; when none is left the activity fails
for good and the case shows it. Logs carry ids only: never addresses, codes or message text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib
import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.delivery_ledger import DeliveryLedger
from adapters.messages import Message, Renderer, TemplateError
from support import webhook_signature
from support.notifications import Audience, DeliveryReceipt, Notification
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
    support_queue_email: str = "support-queue@casework.example"
    duty_manager_email: str = "duty-manager@casework.example"
    staff: Mapping[str, str] = field(default_factory=dict)  # engineer name -> email (the staff list)
    staff_languages: Mapping[str, str] = field(default_factory=dict)  # engineer name -> language, if given
    support_queue_webhook: str | None = None
    escalation_webhook: str | None = None
    sms_webhook: str | None = None
    webhook_secret: str = ""
    timeout_seconds: float = 15.0

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


class PermanentFailure(Exception):
    """This route will never take this message; try the next one."""


def message_id(notification_id: str, domain: str) -> str:
    """Stable across retries, so mail systems can also drop a duplicate by Message-ID."""
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:40]}@{domain}>"


class DeliveryActivities:
    def __init__(self, config: DeliveryConfig, ledger: DeliveryLedger, renderer: Renderer) -> None:
        self._config = config
        self._ledger = ledger
        self._renderer = renderer

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
            await self._record(n, "template", "failed", str(error))
            raise ApplicationError(str(error), type="TemplateError", non_retryable=True) from None
        problems: list[str] = []
        for route in routes(n, self._config.addresses):
            try:
                await self._send(route, n, message)
            except PermanentFailure as failure:
                problems.append(f"{route.channel}: {failure}")
                await self._record(n, route.channel, "failed", str(failure))
                self._log("route refused the message permanently", n, route.channel)
                continue
            await self._record(n, route.channel, "sent", "")
            await self._after_delivery(n)
            self._log("delivered", n, route.channel)
            return DeliveryReceipt(notification_id=n.notification_id, channel=route.channel, duplicate=False)
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

    async def _record(self, n: Notification, channel: str, status: str, detail: str) -> None:
        await asyncio.to_thread(
            self._ledger.record, n.notification_id, n.case_id, n.event, channel, status, detail
        )

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
        if route.channel == "email":
            await self._send_email(route.target, n, message)
        else:
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
                payload |= {"facts": n.facts, "times": {k: v.isoformat() for k, v in n.times.items()}}
            await self._post(route.target, n, payload)

    async def _send_email(self, address: str, n: Notification, message: Message) -> None:
        config = self._config
        email = EmailMessage()
        email["From"] = config.mail_from
        email["To"] = address
        email["Subject"] = message.subject
        email["Message-ID"] = message_id(n.notification_id, config.reply_to_domain)
        email["Reply-To"] = f"case+{n.case_id}@{config.reply_to_domain}"
        email["Date"] = formatdate(usegmt=True)
        email["X-Casework-Case"] = n.case_id
        email["X-Casework-Notification"] = n.notification_id
        email.set_content(message.text)
        email.add_alternative(message.html, subtype="html")
        email["Content-Language"] = message.language  # after the body: set_content drops Content-* headers
        try:
            await aiosmtplib.send(
                email,
                hostname=config.smtp_host,
                port=config.smtp_port,
                use_tls=config.smtp_security == "tls",
                start_tls=config.smtp_security == "starttls",
                username=config.smtp_username,
                password=config.smtp_password,
                timeout=config.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"SMTP refused the recipient ({codes})") from None
            raise ApplicationError(f"SMTP deferred the recipient ({codes})", type="SmtpTransient") from None
        except aiosmtplib.SMTPResponseException as error:
            if error.code >= 500:
                raise PermanentFailure(f"SMTP {error.code}") from None
            raise ApplicationError(f"SMTP {error.code}", type="SmtpTransient") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise ApplicationError(
                f"mail server {config.smtp_host}:{config.smtp_port} unavailable ({type(error).__name__})",
                type="SmtpUnavailable",
            ) from None

    async def _post(self, url: str, n: Notification, payload: dict[str, object]) -> None:
        body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        try:  # signed at each attempt: a retry an hour later carries a fresh time
            signature = webhook_signature.sign(self._config.webhook_secret, body, int(time.time()))
        except ValueError:  # no secret (the worker refuses to start so): never send unsigned
            raise PermanentFailure("no webhook secret (CASEWORK_WEBHOOK_SECRET)") from None
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": n.notification_id,  # the same on every retry
            "X-Casework-Event": n.event,
            webhook_signature.HEADER: signature,
        }
        try:
            async with httpx.AsyncClient(timeout=self._config.timeout_seconds) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise ApplicationError(
                f"webhook unreachable ({type(error).__name__})", type="WebhookUnavailable"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (408, 429) or status >= 500:
            raise ApplicationError(f"webhook answered {status}", type="WebhookTransient")
        raise PermanentFailure(f"webhook answered {status}")

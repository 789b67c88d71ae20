"""Email over SMTP (adapters/smtp_out.py), over a few connections kept open and reused.

Each email to the customer's side replies to its case's address, `case+<token>@<reply domain>`; the
token is recorded with the case in the shared database (adapters/reply_addresses.py) before the
email goes out. Staff mail has no customer Reply-To (adapters/smtp_out.py `case_email`); an
engineer's replies to an address bound to the case and to them (`interfaces.mail_in.staff_mail`). Customer
mail goes
out from an envelope sender of its own, `bounce+<token>@<reply domain>` (VERP; the token recorded
with its notification in adapters/bounce_addresses.py first), so a mail server's later report that
it could not deliver it is tied to the notification (interfaces/mail_in/bounces.py).

Email is the channel every other one falls back to (support.messaging.routing.routes): it has no settings
entry of its own here, its server being SMTP_HOST and its addresses the notification's."""

from __future__ import annotations

import asyncio

from adapters.channels.base import ChannelKind, SenderContext
from adapters.messages import Message
from adapters.smtp_out import SmtpPool, case_email
from support.messaging.notifications import Audience, Notification, urgency
from support.messaging.reply_addresses import (
    bounce_address,
    bounce_token,
    reply_token,
    staff_reply_address,
    staff_token,
    tenant_of_case,
)
from support.messaging.routing import Route

_REMEMBERED_MAX = 10_000  # tokens a delivery worker keeps in mind as recorded


class EmailSender:
    def __init__(self, context: SenderContext) -> None:
        self._config = context.config
        self._replies = context.replies
        self._bounces = context.bounces
        self._remembered: dict[str, None] = {}  # tokens this process recorded (the latest, bounded)
        self._smtp = SmtpPool(self._config.smtp_server, size=self._config.smtp_connections)

    async def send(self, route: Route, notification: Notification, message: Message) -> None:
        config, n = self._config, notification
        to_staff = not n.audience.customer_side
        envelope_from = None  # staff mail: the From address
        if not to_staff:
            await self._remember_reply_address(n.case_id)
            envelope_from = await self._bounce_address(n)
        staff_reply_to = await self._staff_reply_address(n, route.target) if to_staff else None
        email = case_email(
            message,
            mail_from=config.mail_from,
            to=route.target,
            case_id=n.case_id,
            notification_id=n.notification_id,
            reply_to_domain=config.reply_to_domain,
            reply_key=config.reply_key,
            to_staff=to_staff,
            staff_reply_to=staff_reply_to,
        )
        priority = urgency(n.event, n.audience)
        await self._smtp.send(email, priority=priority, envelope_from=envelope_from)

    async def close(self) -> None:
        await self._smtp.close()

    async def _bounce_address(self, n: Notification) -> str:
        """The notification's envelope sender, `bounce+<token>@<reply domain>` (VERP), its token
        recorded before the mail goes out: a mail server's later report that it could not deliver
        the mail comes back to it and is tied to this notification (interfaces.mail_in.bounces)."""
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


CHANNEL = ChannelKind(name="email", make=EmailSender, signed=False)

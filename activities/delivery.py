"""Deliver a notification over the channel of each route (adapters/channels: email over SMTP, a
signed JSON webhook, text messages through an SMS relay, ...), exactly once per id.

Webhooks are signed over the time of sending and the body (`X-Casework-Signature: t=..,v1=..`,
support/messaging/webhook_signature.py) with a secret the worker refuses to start without. An engineer is
reached at the staff list's address for their name, or else through the support queue.

The audience's routes are tried in order (the customer's preferred method first). The ledger in
the database is checked before and written after each delivery, so a retried or re-run activity
never sends what already went out. A transient failure (server down, timeout, 4xx SMTP, HTTP 5xx,
408, 429) raises and Temporal retries with backoff; a permanent one (5xx SMTP, other HTTP 4xx,
a template error) is recorded and the next route is tried; when none is left the activity fails
for good and the case shows it. Logs carry ids only: never addresses, codes or message text.

How an email or a webhook goes out is its channel's business (adapters/channels/*.py, one
sender each, dispatched through one registry); what happens around every send is this module's:
the ledger, the order of routes, the sorting of failures into retry and give up.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.survey_mail import with_survey_link
from adapters.bounce_addresses import BounceAddresses
from adapters.channels import ChannelRegistry, Channels, DeliveryConfig, registry
from adapters.delivery_ledger import DeliveryLedger, LedgerEntry
from adapters.messages import Message, Renderer, TemplateError
from adapters.outbound import PermanentFailure, TransientFailure
from adapters.reply_addresses import ReplyAddresses
from support.messaging.notifications import Audience, DeliveryReceipt, Notification
from support.messaging.routing import Route, routes

__all__ = ["DeliveryActivities", "DeliveryConfig"]


class DeliveryActivities:
    """The delivery activity. Its channels keep their connections (SMTP, HTTP) open between
    deliveries: `await close()` (or `async with`) when the worker is done."""

    def __init__(
        self,
        config: DeliveryConfig,
        ledger: DeliveryLedger,
        renderer: Renderer,
        replies: ReplyAddresses | None = None,
        channels: ChannelRegistry | None = None,
    ) -> None:
        """`replies`: where each email's reply address is recorded before it goes out (by default
        in the ledger's database, which every worker and inbound listener shares). `channels`:
        the registry routes are dispatched through (by default adapters/channels' own); a
        configured channel it does not hold is refused here, before any delivery."""
        self._config = config
        self._ledger = ledger
        self._renderer = renderer
        replies = replies if replies is not None else ReplyAddresses(ledger.engine)
        kinds = channels if channels is not None else registry()
        self._channels = Channels(kinds, config, replies, BounceAddresses(replies.engine))

    async def __aenter__(self) -> DeliveryActivities:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections the channels kept between deliveries. A delivery after this
        opens new ones."""
        await self._channels.close()

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
            message = self._renderer.render(with_survey_link(self._in_recipients_language(n), self._config))
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
        """Over the route's channel; a transient failure raises for Temporal to retry with backoff."""
        try:
            await self._channels.send(route, n, message)
        except TransientFailure as failure:
            raise ApplicationError(str(failure), type=failure.kind) from None

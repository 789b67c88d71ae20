"""The base of every webhook channel: a JSON body signed over the time of sending
(adapters/webhooks.py), posted over one HTTP client the channel keeps. A channel says only what
its body holds (`payload`); the signature, the Idempotency-Key and the sorting of answers into
delivered, retry and give up are the same for all."""

from __future__ import annotations

from adapters.channels.base import SenderContext
from adapters.messages import Message
from adapters.webhooks import WebhookClient
from support.messaging.notifications import Notification
from support.messaging.routing import Route


class SignedWebhookSender:
    """Posts `payload(...)` signed to the route's URL."""

    def __init__(self, context: SenderContext) -> None:
        self._config = context.config
        self._client = WebhookClient()

    def payload(self, route: Route, n: Notification, message: Message) -> dict[str, object]:
        """The JSON body; the ids and the message every receiver gets, by default."""
        return {
            "notification_id": n.notification_id,
            "case_id": n.case_id,
            "event": n.event,
            "audience": n.audience.value,
            "subject": message.subject,
            "text": message.text,
        }

    async def send(self, route: Route, notification: Notification, message: Message) -> None:
        await self._client.post_signed(
            route.target,
            self.payload(route, notification, message),
            secret=self._config.webhook_secret,
            idempotency_key=notification.notification_id,
            event=notification.event,
            timeout_seconds=self._config.timeout_seconds,
        )

    async def close(self) -> None:
        await self._client.close()

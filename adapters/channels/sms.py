"""Text messages to the customer's phone, through the deployment's SMS relay: a signed webhook
(CASEWORK_WEBHOOK_SMS) that gets the number and the text, and none of the case's facts."""

from __future__ import annotations

from adapters.channels.base import ChannelKind
from adapters.channels.signed import SignedWebhookSender
from adapters.messages import Message
from support.messaging.notifications import Notification
from support.messaging.routing import Route


class SmsSender(SignedWebhookSender):
    def payload(self, route: Route, n: Notification, message: Message) -> dict[str, object]:
        return super().payload(route, n, message) | {"to": route.to}


CHANNEL = ChannelKind(name="sms", make=SmsSender, settings={"phone": "webhook_sms"})

"""The support side's webhook (a chat relay, a ticket bridge): the message with the facts, times and
reasons it was made from, for the support queue (CASEWORK_WEBHOOK_SUPPORT_QUEUE) and the duty
manager's escalations (CASEWORK_WEBHOOK_ESCALATION). docs/webhooks.md describes the body."""

from __future__ import annotations

from adapters.channels.base import ChannelKind
from adapters.channels.signed import SignedWebhookSender
from adapters.messages import Message
from support.messaging.notifications import Notification
from support.messaging.routing import Route


class WebhookSender(SignedWebhookSender):
    def payload(self, route: Route, n: Notification, message: Message) -> dict[str, object]:
        return super().payload(route, n, message) | {
            "facts": n.facts,
            "times": {k: v.isoformat() for k, v in n.times.items()},
            "reasons": {k: [r.model_dump(mode="json") for r in v] for k, v in n.reasons.items()},
        }


CHANNEL = ChannelKind(
    name="webhook",
    make=WebhookSender,
    settings={"support_queue": "webhook_support_queue", "duty_manager": "webhook_escalation"},
)

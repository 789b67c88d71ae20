"""A Microsoft Teams incoming webhook as a delivery channel: file 1 of the 3 a new channel takes
(ARCHITECTURE.md, "Delivery channels"). In a deployment this module would be
adapters/channels/teams.py, found there by the registry; here the test registers it
(`registry().with_kinds(CHANNEL)`).

Teams shows a MessageCard: its title and text are the message casework rendered for the support
side. The body is signed like every webhook's (Teams ignores the header; a relay in between may
check it), so a deployment without a webhook secret still refuses to start with it set."""

from __future__ import annotations

from adapters.channels import ChannelKind
from adapters.channels.signed import SignedWebhookSender
from adapters.messages import Message
from support.messaging.notifications import Notification
from support.messaging.routing import Route


class TeamsSender(SignedWebhookSender):
    def payload(self, route: Route, n: Notification, message: Message) -> dict[str, object]:
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.subject,
            "title": message.subject,
            "text": message.text,
        }


# Its settings entry (file 2) is the Settings field named here: webhook_teams (CASEWORK_WEBHOOK_TEAMS).
CHANNEL = ChannelKind(name="teams", make=TeamsSender, settings={"support_queue": "webhook_teams"})

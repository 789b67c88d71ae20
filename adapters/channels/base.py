"""What a delivery channel is: a sender the delivery activity dispatches a route to, and the kind
that says how one is made and which settings give its targets.

A sender takes one rendered message along one route and returns when it went out; it raises
`adapters.outbound.TransientFailure` for Temporal to retry with backoff, or `PermanentFailure`
for the activity to record and try the next route. The ledger, the retries and the rule that a
notification is never silently dropped live in the activity, once, not in each sender.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from adapters.bounce_addresses import BounceAddresses
from adapters.channels.config import DeliveryConfig
from adapters.messages import Message
from adapters.reply_addresses import ReplyAddresses
from support.messaging.notifications import Notification
from support.messaging.routing import DESTINATIONS, Route


class Sender(Protocol):
    """One live channel: its connections are opened on first use and kept until `close()`."""

    async def send(self, route: Route, notification: Notification, message: Message) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SenderContext:
    """What a sender is made from: the deployment's delivery settings, its own targets (destination
    -> URL or address) and the stores an email records its addresses in before it goes out."""

    config: DeliveryConfig
    targets: Mapping[str, str]
    replies: ReplyAddresses
    bounces: BounceAddresses


@dataclass(frozen=True)
class ChannelKind:
    """A channel as the registry knows it.

    `name` is the route's channel, the ledger's and the receipt's. `settings` maps each destination
    it can reach (support.messaging.routing.DESTINATIONS) to the Settings field holding its target, so the
    worker reads them, and checks them, without a list of its own. `signed` channels post webhooks:
    the worker refuses to start with one of them set and no webhook secret."""

    name: str
    make: Callable[[SenderContext], Sender]
    settings: Mapping[str, str] = field(default_factory=dict)
    signed: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.settings) - set(DESTINATIONS))
        if unknown:
            raise ValueError(f"channel {self.name}: unknown destinations {unknown} (known: {DESTINATIONS})")

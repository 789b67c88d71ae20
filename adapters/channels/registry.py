"""The channels a worker delivers over, by name, and their live senders.

`ChannelRegistry` holds the kinds (adapters/channels/*.py each declare one as `CHANNEL`; a test may
add its own). `Channels` is what the delivery activity dispatches through: it makes a channel's
sender on the first route to it and keeps it (its connections) for the next, per event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping

from adapters.bounce_addresses import BounceAddresses
from adapters.channels.base import ChannelKind, Sender, SenderContext
from adapters.channels.config import DeliveryConfig
from adapters.messages import Message
from adapters.outbound import PermanentFailure
from adapters.reply_addresses import ReplyAddresses
from adapters.settings import Settings
from support.messaging.notifications import Notification
from support.messaging.routing import Route


class ChannelRegistry:
    """Channel kinds by name; one name, one kind. Email must be among them: every destination no
    other channel reaches falls back to it."""

    def __init__(self, kinds: Iterable[ChannelKind] = ()) -> None:
        self._kinds: dict[str, ChannelKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: ChannelKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"channel {kind.name} is registered twice")
        self._kinds[kind.name] = kind

    def with_kinds(self, *kinds: ChannelKind) -> ChannelRegistry:
        """A copy with these added (a deployment's own channel, or a test's)."""
        return ChannelRegistry([*self._kinds.values(), *kinds])

    def __iter__(self) -> Iterator[ChannelKind]:
        return iter(self._kinds.values())

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def kind(self, name: str) -> ChannelKind | None:
        return self._kinds.get(name)

    def targets(self, settings: Settings) -> dict[str, dict[str, str]]:
        """channel -> destination -> target, from the Settings fields the kinds name (unset ones
        left out): what DeliveryConfig.channels takes."""
        found: dict[str, dict[str, str]] = {}
        for kind in self:
            targets = {d: getattr(settings, f) for d, f in kind.settings.items() if getattr(settings, f)}
            if targets:
                found[kind.name] = targets
        return found

    def signed_fields_set(self, settings: Settings) -> list[str]:
        """The Settings fields of signed channels (webhooks) that are set: they need a secret."""
        return [f for kind in self if kind.signed for f in kind.settings.values() if getattr(settings, f)]

    def check(self, configured: Mapping[str, Mapping[str, str]]) -> None:
        """Refuse (ValueError) a configuration naming a channel nobody registered, before any
        delivery: its notifications would have no sender."""
        if "email" not in self._kinds:
            raise ValueError("the email channel is not registered: every other channel falls back to it")
        unknown = sorted(set(configured) - set(self._kinds))
        if unknown:
            raise ValueError(f"no channel registered by the name {', '.join(unknown)}")


class Channels:
    """The live senders of one worker. `send` dispatches a route to its channel's sender; a route
    to a channel not registered is refused for good (PermanentFailure: recorded, the next route
    tried, never silently dropped)."""

    def __init__(
        self,
        registry: ChannelRegistry,
        config: DeliveryConfig,
        replies: ReplyAddresses,
        bounces: BounceAddresses,
    ) -> None:
        registry.check(config.channels)
        self._registry = registry
        self._config = config
        self._replies = replies
        self._bounces = bounces
        self._live: dict[str, Sender] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(self, route: Route, notification: Notification, message: Message) -> None:
        await self._sender(route.channel).send(route, notification, message)

    async def close(self) -> None:
        """Close every sender's connections. A delivery after this opens new ones."""
        live, self._live = list(self._live.values()), {}
        for sender in live:
            await sender.close()

    def _sender(self, name: str) -> Sender:
        """Connections belong to the event loop that opened them: in another loop (a second
        asyncio.run) the senders start afresh; the old loop's connections are left behind."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._live = loop, {}
        sender = self._live.get(name)
        if sender is None:
            kind = self._registry.kind(name)
            if kind is None:
                raise PermanentFailure(f"no channel registered by the name {name}")
            targets = self._config.channels.get(name, {})
            sender = kind.make(SenderContext(self._config, targets, self._replies, self._bounces))
            self._live[name] = sender
        return sender

"""Delivery channels: one sender per channel, registered by name, that the delivery activity
(activities/delivery.py) dispatches each route through.

Every module here that declares `CHANNEL` (a `ChannelKind`) is a channel: `registry()` finds them,
so a new channel is its module, its settings entry (adapters/settings.py: the field its kind's
`settings` names) and its test; ARCHITECTURE.md, "Delivery channels" shows one (Microsoft Teams) added so.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from adapters.channels.base import ChannelKind, Sender, SenderContext
from adapters.channels.config import DeliveryConfig
from adapters.channels.registry import ChannelRegistry, Channels

__all__ = [
    "ChannelKind",
    "ChannelRegistry",
    "Channels",
    "DeliveryConfig",
    "Sender",
    "SenderContext",
    "registry",
]


@cache
def _found() -> tuple[ChannelKind, ...]:
    kinds = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        kind = getattr(importlib.import_module(f"{__name__}.{module}"), "CHANNEL", None)
        if isinstance(kind, ChannelKind):
            kinds.append(kind)
    return tuple(kinds)


def registry() -> ChannelRegistry:
    """The channels this package holds (a fresh registry: add to it with `with_kinds`)."""
    return ChannelRegistry(_found())

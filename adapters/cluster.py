"""Whether a Temporal cluster is configured (TEMPORAL_ADDRESS, or a temporalio.envconfig profile),
without importing the client: the worker checks its ports with this before anything heavy loads."""

from __future__ import annotations

import os
from typing import Any

from temporalio.envconfig import ClientConfig


def cluster_config() -> dict[str, Any] | None:
    """Connect arguments from TEMPORAL_ADDRESS or a temporalio.envconfig profile; None if neither."""
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    if not os.environ.get("TEMPORAL_ADDRESS") and not config.get("target_host"):
        return None
    return config

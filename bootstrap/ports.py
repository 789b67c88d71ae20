"""The ports of a worker process, claimed before anything starts (docs/configuration.md): a port
that is taken stops `worker.py` within a second or two with one line naming its variable (exit
status 2), before the dev server, the database or the worker's heavy imports."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from adapters.cluster import cluster_config
from adapters.listeners import Listener, claim
from adapters.settings import Settings
from bootstrap.parts import Part


@dataclass
class Claimed:
    """The listeners of one worker process, claimed before anything starts (`claim_listeners`):
    the sockets casework serves itself on, bound and kept."""

    api: socket.socket | None = None
    health: socket.socket | None = None

    def close(self) -> None:
        for sock in (self.api, self.health):
            if sock is not None:
                sock.close()


def claim_listeners(settings: Settings, api: bool, only: Part | None) -> Claimed:
    """Every port this worker will listen on, before anything starts: the embedded dev server and
    its UI, the SMTP sink, inbound mail, metrics (tried and released: their servers bind them right
    after), the API and liveness (bound and kept). Any that is taken: CannotListen, one line each,
    naming its variable."""
    kept: list[Listener] = []
    tried: list[Listener] = []
    if only != "deliveries":
        if cluster_config() is None:
            tried.append(Listener("CASEWORK_DEV_SERVER_PORT", "the embedded Temporal dev server", "127.0.0.1",
                                  settings.dev_server_port))  # fmt: skip
            tried.append(Listener("CASEWORK_UI_PORT", "the Temporal web UI", "127.0.0.1", settings.ui_port))
        if settings.smtp_host is None:
            tried.append(Listener("CASEWORK_SMTP_SINK_PORT", "the embedded SMTP sink", "127.0.0.1",
                                  settings.sink_port))  # fmt: skip
        if settings.inbound_smtp_port is not None:
            tried.append(Listener("CASEWORK_INBOUND_SMTP_PORT", "the inbound mail listener",
                                  settings.inbound_smtp_host, settings.inbound_smtp_port))  # fmt: skip
    if settings.metrics_port is not None:
        tried.append(Listener("METRICS_PORT", "the Prometheus metrics", settings.metrics_host,
                              settings.metrics_port))  # fmt: skip
    if api:
        kept.append(Listener("CASEWORK_API_PORT", "the HTTP API", settings.api_host, settings.api_port))
    if settings.health_port is not None:
        kept.append(Listener("CASEWORK_HEALTH_PORT", "the liveness endpoint", settings.api_host,
                             settings.health_port))  # fmt: skip
    sockets = claim([*tried, *kept])
    for sock in sockets[: len(tried)]:
        sock.close()
    held = iter(sockets[len(tried) :])
    return Claimed(api=next(held) if api else None, health=next(held) if settings.health_port else None)

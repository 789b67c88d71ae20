"""The ports a casework process listens on, checked before anything starts.

Every listener is named by the variable that sets its port, so a port that is taken stops the
process at once with one line naming that variable (`CannotListen`, exit status 2), instead of a
traceback from deep inside a server, a warning, or a process half started. Listeners casework
serves itself (the HTTP API, the liveness endpoint) are bound here and handed over, so nothing
can take the port between the check and the start; the ones other code binds (the embedded
Temporal dev server and its UI, the SMTP sink, the inbound mail listener, the metrics exporter)
are tried here first and given their port right after.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence
from dataclasses import dataclass


class CannotListen(Exception):
    """A listener cannot have its port: one line a listener, naming its variable."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = tuple(lines)
        super().__init__("\n".join(self.lines))


@dataclass(frozen=True)
class Listener:
    variable: str  # the variable that sets the port, e.g. "CASEWORK_API_PORT"
    what: str  # what listens there, e.g. "the HTTP API"
    host: str
    port: int

    def refusal(self, error: OSError) -> str:
        reason = (
            "address already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        )
        return (
            f"{self.variable}={self.port}: {self.what} cannot listen on {self.host}:{self.port} ({reason}); "
            f"free the port or set {self.variable} to another one"
        )


def bind(listener: Listener) -> socket.socket:
    """A socket bound to the listener's address and listening, as servers bind (SO_REUSEADDR: a
    port left in TIME_WAIT by a previous run is free); OSError when it cannot be."""
    family, kind, proto, _, address = socket.getaddrinfo(
        listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def claim(listeners: Sequence[Listener]) -> list[socket.socket]:
    """Bind every listener; when any cannot be bound, close the others and raise CannotListen
    naming each one that could not (one line each)."""
    bound: list[socket.socket] = []
    refused: list[str] = []
    for listener in listeners:
        try:
            bound.append(bind(listener))
        except OSError as error:
            refused.append(listener.refusal(error))
    if refused:
        for sock in bound:
            sock.close()
        raise CannotListen(refused)
    return bound


def check_free(listeners: Sequence[Listener]) -> None:
    """Each listener's port can be bound now (tried and released); CannotListen otherwise."""
    for sock in claim(listeners):
        sock.close()


def serve_http(app: object, sock: socket.socket, shutdown_s: int = 3) -> None:
    """Serve an ASGI app with uvicorn on a socket claimed first (`claim`: a taken port is one line,
    where uvicorn itself would log and sys.exit), for `starter.py serve` and `codec-server`. On
    SIGINT/SIGTERM requests in flight get `shutdown_s` seconds, so the process ends within 10 s."""
    import uvicorn

    config = uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=shutdown_s)  # type: ignore[arg-type]
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()

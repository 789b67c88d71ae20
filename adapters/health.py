"""A liveness endpoint for the worker process: GET /healthz answers 200 while the worker runs.

While it runs but cannot decide new cases (its policy file is invalid, say), the answer is still
200 (the process is alive: restarting it would not help) with `degraded: <the reason>` as its body,
so that a probe or an operator sees why openings wait."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable


async def serve_health(
    sock: socket.socket,
    alive: Callable[[], bool],
    degraded: Callable[[], Awaitable[str | None]] | None = None,
) -> asyncio.Server:
    """Serve on `sock` (bound and listening: `adapters.listeners.bind`)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            if not request.startswith(b"GET /healthz"):
                status, body = b"404 Not Found", b"not found\n"
            elif not alive():
                status, body = b"503 Service Unavailable", b"not running\n"
            else:
                reason = await degraded() if degraded is not None else None
                status = b"200 OK"
                body = b"ok\n" if reason is None else f"degraded: {reason}\n".encode()
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, sock=sock)

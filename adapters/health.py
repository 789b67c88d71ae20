"""A liveness endpoint for the worker process: GET /healthz answers 200 while the worker runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def serve_health(host: str, port: int, alive: Callable[[], bool]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            ok = request.startswith(b"GET /healthz") and alive()
            status, body = (b"200 OK", b"ok\n") if ok else (b"503 Service Unavailable", b"not running\n")
            if not request.startswith(b"GET /healthz"):
                status, body = b"404 Not Found", b"not found\n"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port)

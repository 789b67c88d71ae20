"""The inbound mail listener in a process of its own, started and supervised by `worker.py` (issue 29).

Why a process: aiosmtpd reads a message line by line in Python (25 MiB are 300,000 lines, seconds
of CPU) and the routing hashes and hands over the whole message. On a thread of the worker's
process that work held the interpreter lock the API, the console, /healthz and the Temporal worker
share: a 25 MiB reply made `/healthz` wait 0.4 s and every API request wait with it. In a process
of its own it competes for nothing but the CPU, and there it is niced (`LISTENER_NICE`; its mail
readers, `adapters.mail_reader_process`, further still), so the worker's requests come first.

The listener process (`python -m bootstrap.inbound_process`) gets the worker's settings, pickled,
on its stdin, opens its own Temporal connection and database engine, and answers on its stdout
with one JSON line a event: `{"ready": port}` once it listens, `{"outcome": name}` for each mail
(the worker counts them in its metric `casework_inbound_mail`), or `{"failed": line}` when it
cannot start (the line names the setting; the worker prints it and exits 2). It stops when its
stdin closes (the worker stopped, or died: a SIGKILLed worker leaves no listener holding the port;
on Linux the kernel also kills it at once, PR_SET_PDEATHSIG), on SIGTERM, or on SIGINT (Ctrl-C in a
terminal reaches the whole process group).

`InboundProcess` is the worker's side: it starts the process, waits for it to listen, and starts
it again (after 1 s, doubling up to 30 s) if it ever ends while the worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from typing import Any, Final

from adapters.listeners import CannotListen
from adapters.logging import configure_logging, get_logger
from adapters.settings import PROJECT_ROOT, Settings

log = get_logger("casework.inbound_process")

LISTENER_NICE: Final = 5  # the listener's CPU priority below the worker's (os.nice, added)
START_TIMEOUT_S: Final = 90.0  # imports and a Temporal connection on a loaded machine
STOP_TIMEOUT_S: Final = 3.0  # then SIGKILL: the worker's own stop must end within 10 s
RESTART_MAX_S: Final = 30.0
_LENGTH: Final = struct.Struct(">Q")
_PR_SET_PDEATHSIG: Final = 1
VARIABLE: Final = "CASEWORK_INBOUND_SMTP_PORT"


def _setting_line(settings: Settings, port: int | None, why: str) -> str:
    return (
        f"{VARIABLE}={port if port is not None else settings.inbound_smtp_port}: the inbound mail "
        f"listener did not start ({why}); set {VARIABLE}=0 to run without reading replies"
    )


class InboundProcess:
    """The worker's side of the listener process: `start` (raises CannotListen, one line naming
    CASEWORK_INBOUND_SMTP_PORT, when it cannot listen), `port`, `stop`."""

    def __init__(self, settings: Settings, count: Callable[[str], None], port: int | None = None) -> None:
        """`count` is told each mail's outcome; `port` overrides the settings' (0: any free port)."""
        self._settings = settings
        self._count = count
        self._port = settings.inbound_smtp_port if port is None else port
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self.port: int | None = None
        self.started = 0  # processes started so far (one more each restart)

    async def start(self) -> InboundProcess:
        """Start the process and wait until it listens."""
        process, port = await self._spawn()
        self._process, self.port = process, port
        self._supervisor = asyncio.create_task(self._supervise())
        return self

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, int]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.inbound_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=PROJECT_ROOT,
            limit=1024 * 1024,
        )
        self.started += 1
        assert process.stdin is not None and process.stdout is not None
        frame = pickle.dumps((self._settings, self._port), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            process.stdin.write(_LENGTH.pack(len(frame)) + frame)
            await process.stdin.drain()
            port = await asyncio.wait_for(self._ready(process), START_TIMEOUT_S)
        except TimeoutError:
            await self._end(process)
            raise CannotListen(
                [
                    _setting_line(
                        self._settings,
                        self._port,
                        f"not listening {START_TIMEOUT_S:.0f} s after it was started",
                    )
                ]
            ) from None
        except (CannotListen, ConnectionError, asyncio.CancelledError):
            await self._end(process)
            raise
        return process, port

    async def _ready(self, process: asyncio.subprocess.Process) -> int:
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                code = await process.wait()
                raise CannotListen(
                    [_setting_line(self._settings, self._port, f"it exited with status {code}")]
                )
            event = _event(line)
            if "ready" in event:
                return int(event["ready"])
            if "failed" in event:
                raise CannotListen([str(event["failed"])])
            if "outcome" in event:
                self._count(str(event["outcome"]))

    async def _supervise(self) -> None:
        """Count the outcomes it reports; start it again whenever it ends while the worker runs."""
        while not self._stopping:
            process = self._process
            assert process is not None and process.stdout is not None
            while line := await process.stdout.readline():
                if "outcome" in (event := _event(line)):
                    self._count(str(event["outcome"]))
            code = await process.wait()
            if self._stopping:
                return
            log.error("inbound mail listener ended; starting it again", exit_status=code)
            pause = 1.0
            while not self._stopping:
                await asyncio.sleep(pause)
                try:
                    self._process, self.port = await self._spawn()
                except CannotListen as error:
                    log.error(
                        "inbound mail listener could not start again", reason=str(error), retry_in=pause
                    )
                    pause = min(pause * 2, RESTART_MAX_S)
                    continue
                log.info("inbound mail listener started again", port=self.port)
                break

    async def stop(self) -> None:
        """Stop the listener: sessions still open end (their senders keep the mail and retry)."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._process is not None:
            await self._end(self._process)
            self._process = None

    @staticmethod
    async def _end(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None and process.stdin is not None:
            process.stdin.close()  # it stops on the end of its stdin
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def _event(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


# -- the listener process --


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL when the worker that started this process dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


async def _serve(settings: Settings, port: int | None, out: Any) -> int:
    from adapters.database import open_database
    from adapters.temporal import TemporalUnavailable, connect
    from bootstrap.gateway import build_cases
    from bootstrap.inbound import start_inbound_listener

    def say(**event: object) -> None:
        out.write(json.dumps(event).encode() + b"\n")
        out.flush()

    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    engine = open_database(settings)
    try:
        try:
            client = await connect(settings)
        except TemporalUnavailable as error:
            say(failed=_setting_line(settings, port, str(error)))
            return 2
        cases = build_cases(client, settings, engine)
        try:
            listener = await start_inbound_listener(
                settings, cases, engine, port=port, count=say_outcome(say)
            )
        except CannotListen as error:
            say(failed=" ".join(error.lines))
            return 2
        if listener is None:  # off: nothing to do (the worker does not start it then)
            say(ready=0)
            return 0
        say(ready=listener.port)
        with contextlib.suppress(OSError):  # started at the worker's priority, serves below it
            os.nice(LISTENER_NICE)
        ended = asyncio.ensure_future(loop.connect_read_pipe(lambda: _EndOfInput(stopped), sys.stdin))
        try:
            await stopped.wait()
        finally:
            ended.cancel()
            await listener.stop()
    finally:
        engine.dispose()
    return 0


def say_outcome(say: Callable[..., None]) -> Callable[[str], None]:
    def count(outcome: str) -> None:
        say(outcome=outcome)

    return count


class _EndOfInput(asyncio.Protocol):
    """The worker's end of our stdin: when it closes, the worker has stopped (or died)."""

    def __init__(self, stopped: asyncio.Event) -> None:
        self._stopped = stopped

    def eof_received(self) -> bool:
        self._stopped.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stopped.set()


def main() -> int:
    _die_with_parent()
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # whatever else prints, the events' pipe stays the events'
    header = sys.stdin.buffer.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return 0  # the worker went away before it said anything
    (length,) = _LENGTH.unpack(header)
    settings, port = pickle.loads(sys.stdin.buffer.read(length))  # noqa: S301  (from the worker that started us)
    assert isinstance(settings, Settings)
    configure_logging(settings.log_level)
    try:
        return asyncio.run(_serve(settings, port, out))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    from adapters.process_exit import exit_now

    exit_now(main())

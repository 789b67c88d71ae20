"""The inbound mail listener in a process of its own, started and supervised by `worker.py` (issue 29).

Why a process: aiosmtpd reads a message line by line in Python (25 MiB are 300,000 lines, seconds
of CPU) and the routing hashes and hands over the whole message. On a thread of the worker's
process that work held the interpreter lock the API, the console, /healthz and the Temporal worker
share: a 25 MiB reply made `/healthz` wait 0.4 s and every API request wait with it. In a process
of its own it competes for nothing but the CPU, and there it is niced (`LISTENER_NICE`; its mail
readers, `adapters.mail_reader_process`, further still), so the worker's requests come first.

The listener process (`python -m bootstrap.inbound_process HOST PORT`) binds its port first, before
its imports (seconds on a busy machine), and says so; the worker waits for that only, so a taken
port is still one line and exit status 2 within a second or two, and a worker's start is not
slowed by the listener's. Connections that arrive before it serves wait in the socket's backlog.
Then it reads the worker's settings, pickled, on its stdin, opens its own Temporal connection and
database engine, and serves. It answers on its stdout with one JSON line a event: `{"bound":
port}`, `{"ready": port}` once it serves, `{"outcome": name}` for each mail (the worker counts them
in its metric `casework_inbound_mail`), or `{"failed": line}` (the line names the setting). It
stops when its stdin closes (the worker stopped, or died: on Linux the kernel also kills it at
once, PR_SET_PDEATHSIG, so a SIGKILLed worker leaves nothing holding the port), or on SIGTERM; SIGINT
(Ctrl-C reaches the whole process group) is left to the worker, which then stops it.

`InboundProcess` is the worker's side: it starts the process, waits until it has the port, and
starts it again (after 1 s, doubling up to 30 s) if it ever ends while the worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import pickle
import signal
import socket
import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Final

# Only what binding the port needs: the listener process binds it before its other imports.
from adapters.listeners import CannotListen, Listener, bind

if TYPE_CHECKING:
    from adapters.settings import Settings

LISTENER_NICE: Final = 10  # the listener's CPU priority below the worker's (added; its readers add 10)
BIND_TIMEOUT_S: Final = 30.0  # a Python start and a bind, on a loaded machine
STOP_TIMEOUT_S: Final = 3.0  # then SIGKILL: the worker's own stop must end within 10 s
RESTART_MAX_S: Final = 30.0
_LENGTH: Final = struct.Struct(">Q")
_PR_SET_PDEATHSIG: Final = 1
VARIABLE: Final = "CASEWORK_INBOUND_SMTP_PORT"
WHAT: Final = "the inbound mail listener"
_PROJECT: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _log() -> Any:
    from adapters.logging import get_logger

    return get_logger("casework.inbound_process")


def did_not_start(port: int, why: str) -> str:
    """The one line of a listener that could not start for another reason than its port."""
    return f"{VARIABLE}={port}: {WHAT} did not start ({why}); set {VARIABLE}=0 to run without reading replies"


class InboundProcess:
    """The worker's side of the listener process: `start` (raises CannotListen, one line naming
    CASEWORK_INBOUND_SMTP_PORT, when it cannot have its port), `port`, `stop`."""

    def __init__(self, settings: Settings, count: Callable[[str], None], port: int | None = None) -> None:
        """`count` is told each mail's outcome; `port` overrides the settings' (0: any free port)."""
        self._settings = settings
        self._count = count
        chosen = settings.inbound_smtp_port if port is None else port
        assert chosen is not None, "CASEWORK_INBOUND_SMTP_PORT=0: no listener to start"
        self._port = chosen
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self.port: int | None = None
        self.started = 0  # processes started so far (one more each restart)

    async def start(self) -> InboundProcess:
        """Start the process; return once it has its port (it serves a moment later: connections
        wait in the backlog until then)."""
        self._process, self.port = await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())
        return self

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, int]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bootstrap.inbound_process",
            self._settings.inbound_smtp_host,
            str(self._port),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=_PROJECT,
            limit=1024 * 1024,
        )
        self.started += 1
        assert process.stdin is not None
        frame = pickle.dumps(self._settings, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            process.stdin.write(_LENGTH.pack(len(frame)) + frame)
            await process.stdin.drain()
            port = await asyncio.wait_for(self._bound(process), BIND_TIMEOUT_S)
        except TimeoutError:
            await self._end(process)
            raise CannotListen(
                [did_not_start(self._port, f"no port {BIND_TIMEOUT_S:.0f} s after it started")]
            ) from None
        except BaseException:
            await self._end(process)
            raise
        return process, port

    async def _bound(self, process: asyncio.subprocess.Process) -> int:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            event = _event(line)
            if "bound" in event:
                return int(event["bound"])
            if "failed" in event:
                raise CannotListen([str(event["failed"])])
        code = await process.wait()
        raise CannotListen([did_not_start(self._port, f"it exited with status {code}")])

    async def _supervise(self) -> None:
        """Follow what it reports; start it again whenever it ends while the worker runs (after 1 s,
        doubling while it ends before it serves, up to RESTART_MAX_S)."""
        pause = 1.0
        while not self._stopping:
            process = self._process
            assert process is not None and process.stdout is not None
            while line := await process.stdout.readline():
                event = _event(line)
                if "outcome" in event:
                    self._count(str(event["outcome"]))
                elif "ready" in event:
                    pause = 1.0
                    _log().info("inbound mail listener serving", port=event["ready"], pid=process.pid)
                elif "failed" in event:
                    _log().error("inbound mail listener cannot serve", reason=str(event["failed"]))
            code = await process.wait()
            if self._stopping:
                return
            _log().error("inbound mail listener ended; starting it again", exit_status=code, in_s=pause)
            while not self._stopping:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RESTART_MAX_S)
                try:
                    self._process, self.port = await self._spawn()
                except CannotListen as error:
                    _log().error("inbound mail listener could not start again", reason=str(error), in_s=pause)
                    continue
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


class _Events:
    """The worker's end of our stdout: one JSON line a event."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def say(self, **event: object) -> None:
        self._out.write(json.dumps(event).encode() + b"\n")
        self._out.flush()

    def outcome(self, outcome: str) -> None:
        self.say(outcome=outcome)


class _EndOfInput(asyncio.Protocol):
    """The worker's end of our stdin: when it closes, the worker has stopped (or died)."""

    def __init__(self, stopped: asyncio.Event) -> None:
        self._stopped = stopped

    def eof_received(self) -> bool:
        self._stopped.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stopped.set()


async def _serve(settings: Settings, sock: socket.socket, events: _Events) -> int:
    from adapters.database import open_database
    from adapters.temporal import TemporalUnavailable, connect
    from bootstrap.gateway import build_cases
    from bootstrap.inbound import start_inbound_listener

    port = int(sock.getsockname()[1])
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    engine = open_database(settings)
    try:
        try:
            client = await connect(settings)
        except TemporalUnavailable as error:
            events.say(failed=did_not_start(port, str(error)))
            return 2
        cases = build_cases(client, settings, engine)
        # Started at the worker's priority, it serves below it: lowered before the listener takes
        # its first connection (a client answered at once was answered at the worker's priority).
        with contextlib.suppress(OSError):
            os.nice(LISTENER_NICE)
        listener = await start_inbound_listener(
            settings, cases, engine, port=port, count=events.outcome, sock=sock
        )
        assert listener is not None
        events.say(ready=port)
        ended = asyncio.ensure_future(loop.connect_read_pipe(lambda: _EndOfInput(stopped), sys.stdin))
        try:
            await stopped.wait()
        finally:
            ended.cancel()
            await listener.stop()
    finally:
        engine.dispose()
    return 0


def main(host: str, port: int) -> int:
    _die_with_parent()
    # Ctrl-C reaches the whole process group: the worker decides when this process stops (it
    # closes our stdin, or kills us if we are still starting), never a traceback from an import.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    events = _Events(os.fdopen(os.dup(sys.stdout.fileno()), "wb"))
    sys.stdout = sys.stderr  # whatever else prints, the events' pipe stays the events'
    listener = Listener(VARIABLE, WHAT, host, port)
    try:
        sock = bind(listener)
    except OSError as error:
        events.say(failed=listener.refusal(error))
        return 2
    events.say(bound=int(sock.getsockname()[1]))
    header = sys.stdin.buffer.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return 0  # the worker went away before it sent its settings
    (length,) = _LENGTH.unpack(header)
    settings = pickle.loads(sys.stdin.buffer.read(length))  # noqa: S301  (from the worker that started us)
    from adapters.logging import configure_logging

    configure_logging(settings.log_level)
    return asyncio.run(_serve(settings, sock, events))


if __name__ == "__main__":
    from adapters.process_exit import exit_now

    exit_now(main(sys.argv[1], int(sys.argv[2])))

"""Reading received mail in child processes, so that no mail, however hostile, holds the event loop
that serves the API, the console, /healthz and the Temporal worker (issue 29).

`MailReaders` keeps a few child processes (`python -m adapters.mail_reader_process`, importing the
mail reader and nothing else) and hands each mail to an idle one over its pipes. A mail whose
reading uses more than `cpu_seconds` of the child's CPU is refused for good (554: the same bytes
would take as long again) and its child killed and replaced; a child that dies, or that gets no CPU
for a long while (an overloaded machine), gives a temporary failure (`ReaderUnavailable`: 451, the
sending server tries again). Results come back pickled; the parent unpickles only the mail
reader's own types.

Running `python -m adapters.mail_reader_process` serves one child: frames of an 8-byte big-endian
length and a pickle, (raw bytes, MailLimits) in, ("ok", ReadMail) or ("refused", code, text) out,
after an empty frame that says it is ready; (raw bytes, MailLimits, "report") in reads a delivery
status notification instead (`adapters.delivery_report`), ("ok", DeliveryReport) out.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import pickle
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from adapters.delivery_report import DeliveryReport, read_report
from adapters.mail_reader import Attachment, MailLimits, MailRefused, ReadMail, read_or_refuse

_LENGTH: Final = struct.Struct(">Q")
_ALLOWED: Final = {
    ("adapters.mail_reader", "ReadMail"),
    ("adapters.mail_reader", "Attachment"),
    ("adapters.delivery_report", "DeliveryReport"),
}
# However small the CPU bound, a reader that got no CPU is only given up after this long.
_NO_CPU_WAIT_S: Final = 10.0
_POLL_S: Final = 0.1
READER_NICE: Final = 10  # added to the listener's own: a hostile mail's parse yields the CPU first
_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROJECT: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What `_Results` unpickles, by name (`_ALLOWED`).
RESULT_TYPES: Final = (ReadMail, Attachment, DeliveryReport)


class ReaderUnavailable(RuntimeError):
    """No child could read the mail now (it died, or the machine gave it no CPU): try again later."""


class _Results(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a mail reader's result")
        return super().find_class(module, name)


@dataclass(eq=False)
class _Child:
    process: asyncio.subprocess.Process

    def cpu_seconds(self) -> float | None:
        """The child's CPU time so far (Linux /proc), or None where it cannot be read."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, IndexError, ValueError):
            return None

    async def ask(self, frame: bytes) -> bytes:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(frame)
        await self.process.stdin.drain()
        (length,) = _LENGTH.unpack(await self.process.stdout.readexactly(_LENGTH.size))
        return await self.process.stdout.readexactly(length)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


class MailReaders:
    """`count` child processes reading mail, started when first needed; `read` one mail."""

    def __init__(self, limits: MailLimits, cpu_seconds: float, count: int = 2) -> None:
        self._limits = limits
        self._cpu_seconds = cpu_seconds
        self._idle: asyncio.Queue[_Child | None] = asyncio.Queue()
        for _ in range(count):
            self._idle.put_nowait(None)  # a slot whose child is started on first use
        self._children: set[_Child] = set()
        self._reaping: set[asyncio.Future[int]] = set()
        self.started = 0  # children started so far (one more each time one is killed)

    async def read(self, raw: bytes) -> ReadMail:
        """The mail read by a child. Raises MailRefused (a permanent answer: over the limits,
        unreadable, over the CPU bound) or ReaderUnavailable (a temporary one)."""
        read = await self._read((raw, self._limits))
        assert isinstance(read, ReadMail)
        return read

    async def report(self, raw: bytes) -> DeliveryReport:
        """The delivery report a mail carries, read by a child (raises as `read`)."""
        report = await self._read((raw, self._limits, "report"))
        assert isinstance(report, DeliveryReport)
        return report

    async def _read(self, asked: tuple[Any, ...]) -> Any:
        frame = pickle.dumps(asked, protocol=pickle.HIGHEST_PROTOCOL)
        child = await self._idle.get()
        try:
            if child is None:
                child = await self._start()
            result = await self._ask(child, _LENGTH.pack(len(frame)) + frame)
        except BaseException:  # over the bound, dead, or the caller went away: a new child next time
            if child is not None:
                self._drop(child)
            self._idle.put_nowait(None)
            raise
        self._idle.put_nowait(child)
        if result[0] == "refused":
            raise MailRefused(int(result[1]), str(result[2]))
        return result[1]

    async def _ask(self, child: _Child, frame: bytes) -> tuple[Any, ...]:
        """The child's answer to one mail, watched for its CPU time."""
        before = child.cpu_seconds()
        asked = asyncio.ensure_future(child.ask(frame))
        waited = 0.0
        try:
            while not asked.done():
                await asyncio.wait({asked}, timeout=_POLL_S)
                waited += _POLL_S
                used = child.cpu_seconds()
                over_cpu = used is not None and before is not None and used - before > self._cpu_seconds
                if over_cpu or (used is None and waited > self._cpu_seconds):
                    raise MailRefused(
                        554, f"5.6.0 the mail cannot be read: reading it took over {self._cpu_seconds:g} s"
                    )
                if waited > max(10 * self._cpu_seconds, _NO_CPU_WAIT_S):  # the machine gave it no CPU:
                    # not the mail's fault (told apart on a scale of seconds: a reader at the lowest
                    # priority on a busy box may wait a while for its first slice)
                    raise ReaderUnavailable("the mail reader got no CPU in time")
            reply = asked.result()
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise ReaderUnavailable(f"the mail reader stopped ({type(error).__name__})") from None
        finally:
            asked.cancel()
        result = _Results(io.BytesIO(reply)).load()
        assert isinstance(result, tuple)
        return result

    async def _start(self) -> _Child:
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([PROJECT, os.environ.get("PYTHONPATH", "")]),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.mail_reader_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=PROJECT,
            env=environment,
            limit=1024 * 1024,
        )
        child = _Child(process)
        self._children.add(child)
        self.started += 1
        assert process.stdout is not None
        try:  # ready once it has imported the reader (its CPU until then is not a mail's)
            await process.stdout.readexactly(_LENGTH.size)
        except asyncio.IncompleteReadError:
            self._drop(child)
            raise ReaderUnavailable("the mail reader did not start") from None
        return child

    def _drop(self, child: _Child) -> None:
        child.kill()
        self._children.discard(child)
        reaped = asyncio.ensure_future(child.process.wait())  # reaped in the background
        self._reaping.add(reaped)
        reaped.add_done_callback(self._reaping.discard)

    async def close(self) -> None:
        for child in list(self._children):
            child.kill()
            await child.process.wait()
        self._children.clear()


class InlineReader:
    """Reads in the calling process (the CLI's `mail release`, which serves nothing else)."""

    def __init__(self, limits: MailLimits) -> None:
        self._limits = limits

    async def read(self, raw: bytes) -> ReadMail:
        return read_or_refuse(raw, self._limits)

    async def report(self, raw: bytes) -> DeliveryReport:
        return read_report(raw, self._limits)

    async def close(self) -> None:
        return None


def serve(
    source: BinaryIO, sink: BinaryIO, read: Callable[[bytes, MailLimits], ReadMail] = read_or_refuse
) -> None:
    """The child's loop: a ready frame (empty), then one mail in and its reading out, until the
    parent closes the pipe."""
    sink.write(_LENGTH.pack(0))
    sink.flush()
    while True:
        header = source.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            return
        (length,) = _LENGTH.unpack(header)
        raw, limits, *kind = pickle.loads(source.read(length))  # noqa: S301  (from the parent, which wrote it)
        try:
            done = read_report(raw, limits) if kind == ["report"] else read(raw, limits)
            result: tuple[Any, ...] = ("ok", done)
        except MailRefused as refused:
            result = ("refused", refused.code, str(refused))
        reply = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        sink.write(_LENGTH.pack(len(reply)) + reply)
        sink.flush()


if __name__ == "__main__":
    with contextlib.suppress(OSError):  # below the listener, which is below the worker's requests
        os.nice(READER_NICE)
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # whatever else prints, the frames' pipe stays the frames'
    serve(sys.stdin.buffer, frames)

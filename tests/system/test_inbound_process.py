"""The inbound mail listener as a process of its own (bootstrap/inbound_process.py, issue 29): what an
operator sees of it. The worker starts it and says it listens; a listener that dies is started
again; Ctrl-C ends it with the worker; one that cannot listen says why in one line."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.listeners import CannotListen
from adapters.mail_sink import free_port
from adapters.settings import Settings
from bootstrap.inbound_process import LISTENER_NICE, InboundProcess
from scaffold.processes import WorkerProcess, worker_env

LOWEST_PRIORITY = 19  # Linux's highest nice value


@contextmanager
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def listeners_of(pid: int) -> list[int]:
    """The listener processes a worker started (its children running bootstrap.inbound_process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and b"bootstrap.inbound_process" in argv:
            found.append(int(entry.name))
    return found


def greets(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False


def eventually(check: Callable[[], object], what: str, seconds: float = 60) -> None:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def run_kill_and_stop(env: dict[str, str], log: Path, port: int) -> None:
    """A worker with the listener: it listens, a killed listener comes back, Ctrl-C ends both."""
    worker = WorkerProcess(env, log, args=())
    try:
        banner = worker.wait_ready()
        assert f"inbound mail        : smtp://127.0.0.1:{port} " in banner
        [first] = listeners_of(worker.process.pid)
        eventually(lambda: greets(port), "the listener answers")
        # It answers only once it is below the worker (LISTENER_NICE lower, as far as the lowest
        # priority, 19, allows: a worker started at 19 itself has a listener at 19 too).
        below = min(os.getpriority(os.PRIO_PROCESS, worker.process.pid) + LISTENER_NICE, LOWEST_PRIORITY)
        assert os.getpriority(os.PRIO_PROCESS, first) == below

        os.kill(first, signal.SIGKILL)  # a listener that dies, however: the worker starts another
        eventually(lambda: [p for p in listeners_of(worker.process.pid) if p != first], "a new listener")
        eventually(lambda: greets(port), "the new listener answers on the same port")
        [second] = listeners_of(worker.process.pid)
    finally:
        stopping = time.monotonic()
        code = worker.stop()  # SIGINT, as Ctrl-C
    assert code == 0, worker.log_tail()
    assert time.monotonic() - stopping < 10
    assert ended(second), "the listener ended with the worker"
    assert not greets(port)
    assert "inbound mail listener ended; starting it again" in worker.log_path.read_text()


async def test_the_listener_runs_apart_is_started_again_and_ends_with_the_worker(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = worker_env(settings, dev_env.client.service_client.config.target_host) | {
        "CASEWORK_INBOUND_SMTP_PORT": str(port)
    }
    await asyncio.to_thread(run_kill_and_stop, env, tmp_path / "worker.log", port)


async def test_a_listener_that_cannot_listen_says_why_in_one_line(settings: Settings) -> None:
    with taken_port() as port:
        starting = InboundProcess(settings, lambda outcome: None, port=port)
        with pytest.raises(CannotListen) as refused:
            await starting.start()
    [line] = refused.value.lines
    assert line.startswith(f"CASEWORK_INBOUND_SMTP_PORT={port}: the inbound mail listener cannot listen"), (
        line
    )

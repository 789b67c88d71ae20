"""Starting and stopping the real processes: every listener whose port is taken stops `worker.py`
(and `starter.py serve`) with one line naming its variable, exit status 2, within 5 s; SIGINT and
SIGTERM end a running worker, with cases in its cache, within 10 s."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters.settings import PROJECT_ROOT
from scaffold.processes import WorkerProcess
from tests.system.test_worker_e2e import cli, isolated_env

pytestmark = pytest.mark.e2e

# Every listener of `worker.py --api` (metrics and liveness on), and what it is called in the line.
LISTENERS = {
    "CASEWORK_API_PORT": "the HTTP API",
    "CASEWORK_HEALTH_PORT": "the liveness endpoint",
    "METRICS_PORT": "the Prometheus metrics",
    "CASEWORK_DEV_SERVER_PORT": "the embedded Temporal dev server",
    "CASEWORK_UI_PORT": "the Temporal web UI",
    "CASEWORK_SMTP_SINK_PORT": "the embedded SMTP sink",
    "CASEWORK_INBOUND_SMTP_PORT": "the inbound mail listener",
}


@contextmanager
def taken_port() -> Iterator[int]:
    """A free loopback port, taken by a listening socket of the test's own."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def every_listener_on(env: dict[str, str]) -> dict[str, str]:
    from adapters.mail_sink import free_port

    return env | {name: str(free_port()) for name in LISTENERS}


def run(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, *argv], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    return done, time.monotonic() - began


@pytest.mark.parametrize("variable", list(LISTENERS))
def test_a_taken_port_stops_the_worker_at_once_with_one_line_naming_its_variable(
    tmp_path: Path, variable: str
) -> None:
    env = every_listener_on(isolated_env(tmp_path))
    with taken_port() as port:
        done, seconds = run(["worker.py", "--seed", "directory.toml", "--api"], env | {variable: str(port)})
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"{variable}={port}: {LISTENERS[variable]} cannot listen on 127.0.0.1:{port}"), (
        line
    )
    assert f"set {variable} to another one" in line and "address already in use" in line
    assert "casework worker is running" not in done.stdout
    print(f"{variable} taken: exit {done.returncode} after {seconds:.1f} s")
    assert seconds <= 5, f"{seconds:.1f} s"
    assert not (tmp_path / "var" / "temporal.db").exists(), "nothing was started"


def test_two_taken_ports_are_each_named(tmp_path: Path) -> None:
    env = every_listener_on(isolated_env(tmp_path))
    with taken_port() as api, taken_port() as sink:
        done, _ = run(
            ["worker.py", "--api"],
            env | {"CASEWORK_API_PORT": str(api), "CASEWORK_SMTP_SINK_PORT": str(sink)},
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert [line.split("=")[0] for line in lines] == ["CASEWORK_SMTP_SINK_PORT", "CASEWORK_API_PORT"], lines


def test_the_deliveries_part_names_its_taken_liveness_port(tmp_path: Path) -> None:
    with taken_port() as port:
        done, seconds = run(["worker.py", "--only", "deliveries"], isolated_env(tmp_path) | {
            "CASEWORK_HEALTH_PORT": str(port)})  # fmt: skip
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"CASEWORK_HEALTH_PORT={port}: the liveness endpoint cannot listen"), line
    assert seconds <= 5


def test_a_taken_port_stops_starter_serve_with_one_line(tmp_path: Path) -> None:
    env = isolated_env(tmp_path) | {"CASEWORK_API_TOKENS": "serve-token-0123456789"}
    with taken_port() as port:
        done, seconds = run(["starter.py", "serve"], env | {"CASEWORK_API_PORT": str(port)})
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"CASEWORK_API_PORT={port}: the HTTP API cannot listen on 127.0.0.1:{port}"), line
    assert seconds <= 5


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_a_running_worker_with_cases_in_its_cache_within_10_s(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """The case the worker has cached is what made a worker whose dev server went away first wait
    for ever (its eviction never completed): stopping goes worker first, then the server."""
    env = every_listener_on(isolated_env(tmp_path))
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        opened = cli(
            env, "open", "--request-id", f"stop-{stop_signal.name}", "--tenant", "contoso",
            "--requester", "admin@contoso.example", "--category", "technical", "--severity", "A",
            "--title", "Mail is down", "--description", "No mail since nine",
            "--email", "admin@contoso.example",
        )  # fmt: skip
        assert opened["case"]["status"] == "awaiting_first_response"
        began = time.monotonic()
        worker.process.send_signal(stop_signal)
        code = worker.process.wait(timeout=30)
        seconds = time.monotonic() - began
    finally:
        if worker.process.poll() is None:
            worker.process.kill()
    log = (tmp_path / "worker.log").read_text()
    print(f"{stop_signal.name} to a running worker with a cached case: exit {code} after {seconds:.1f} s")
    assert code == 0, log[-3000:]
    assert seconds <= 10, f"{seconds:.1f} s"
    assert "Traceback" not in log


def test_a_signal_while_the_worker_starts_ends_it_within_10_s(tmp_path: Path) -> None:
    env = every_listener_on(isolated_env(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "worker.py", "--api"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(300):  # the dev server is starting (its database file appears)
            if (tmp_path / "var" / "temporal.db").exists():
                break
            time.sleep(0.05)
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        seconds = time.monotonic() - began
    finally:
        if process.poll() is None:
            process.kill()
    print(f"SIGTERM while starting: exit {process.returncode} after {seconds:.1f} s")
    assert seconds <= 10, f"{seconds:.1f} s"
    assert "Traceback" not in err, err[-3000:]
    assert not processes_using(tmp_path), "the dev server it was starting was stopped too"


def processes_using(path: Path) -> list[str]:
    """Command lines of the processes that name `path` (the dev server names its database)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and str(path) in argv:
            found.append(argv)
    return found


def test_a_worker_that_does_not_start_says_why_in_the_tests_failure(tmp_path: Path) -> None:
    """What a test sees when its worker cannot start (here: its inbound port is taken, as by a
    `make run` on 2525): the exit status and the process's own line, not "worker did not start:"."""
    with taken_port() as port:
        worker = WorkerProcess(
            isolated_env(tmp_path) | {"CASEWORK_INBOUND_SMTP_PORT": str(port)}, tmp_path / "w.log"
        )
        with pytest.raises(AssertionError) as failed:
            worker.wait_ready()
        assert worker.stop() == 2
    assert "exit status 2" in str(failed.value)
    assert f"CASEWORK_INBOUND_SMTP_PORT={port}: the inbound mail listener cannot listen" in str(failed.value)

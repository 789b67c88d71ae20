"""casework's own processes (`worker.py`, `starter.py serve`) as benchmarks and fault tests run
them: real processes, watched through their output, killed or stopped like an operator would."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from adapters.mail_sink import free_port
from adapters.settings import PROJECT_ROOT, Settings

# Benchmarks and the fuzz test measure the engine, not the intake's limits: every limit off.
NO_LIMITS = {
    "CASEWORK_RATE_PER_KEY": "0",
    "CASEWORK_RATE_PER_CLIENT": "0",
    "CASEWORK_OPENINGS_PER_TENANT": "0",
    "CASEWORK_OPEN_CASES_PER_TENANT": "0",
}


def worker_env(settings: Settings, temporal_address: str, policy: Path | None = None) -> dict[str, str]:
    """The environment of a `worker.py` (or `starter.py`) with these settings, pointed at a given
    Temporal server: nothing of the caller's environment that casework reads leaks in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SMTP_", "CASEWORK_", "METRICS_"))
    }
    return env | {
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_CONFIG_FILE": str(settings.var_dir / "no-temporal-profile.toml"),
        "CASEWORK_VAR": str(settings.var_dir),
        "CASEWORK_POLICY": str(policy or settings.policy_path),
        "CASEWORK_TASK_QUEUE": settings.task_queue,
        "CASEWORK_HEALTH_PORT": "0",
        # No inbound mail listener: several workers on one machine would want one port, and a port
        # that cannot be bound stops a worker (bootstrap.inbound).
        "CASEWORK_INBOUND_SMTP_PORT": "0",
        # Nothing else on a default port either (a `make run` on this machine has them): the API
        # of `--api` or `starter.py serve`, the dev server, its UI and the sink should any start.
        **{name: str(free_port()) for name in LISTENER_PORTS},
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(settings.smtp_port),
        "SMTP_SECURITY": "none",
    }


# The ports a worker or starter.py may listen on besides liveness, inbound mail and metrics.
LISTENER_PORTS = (
    "CASEWORK_API_PORT",
    "CASEWORK_DEV_SERVER_PORT",
    "CASEWORK_UI_PORT",
    "CASEWORK_SMTP_SINK_PORT",
    "CASEWORK_CODEC_PORT",
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dev_server_pid(address: str) -> int | None:
    """The pid of the dev server (`temporal server start-dev`) listening on `address`'s port, as
    the SDK starts it for a benchmark, found by its command line; None when none is found."""
    port = address.rsplit(":", 1)[-1].encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if b"start-dev" in argv and b"--port" in argv[:-1] and argv[argv.index(b"--port") + 1] == port:
            return int(entry.name)
    return None


def rss_bytes(pid: int) -> tuple[int, int]:
    """(resident set size now, its peak) of a process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def wait_healthy(url: str, timeout: float = 60, running: Callable[[], bool] = lambda: True) -> bool:
    """Whether `url`/healthz answered 200 within `timeout` seconds; False as soon as `running()`
    says the process serving it has ended."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up and running():
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


class WorkerProcess:
    """`python worker.py` as `make run` starts it (or another worker program that, like it, says
    "Press Ctrl-C to stop." when it is ready), watched through its stdout."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        args: tuple[str, ...] = ("--seed", "directory.toml", "--api"),
        program: tuple[str, ...] = ("worker.py",),
    ) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *program, *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
            with contextlib.suppress(ValueError):  # closed: the process was stopped meanwhile
                self._log.write(line.encode())  # beside its stderr: what a test's failure shows
                self._log.flush()

    def wait_ready(self, timeout: float = 180) -> str:
        """Its output until it says it is ready. 180 s: at load 25-30 on 2 cores a worker printed
        nothing in 90 s (tests/system/test_action_restart.py failed so on 2026-12-07); one that exits
        ends the wait at once."""
        seen = []
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            if "Press Ctrl-C to stop." in line:
                return "".join(seen)
        code = self.process.poll()
        state = "still starting" if code is None else f"exit status {code}"
        raise AssertionError(
            f"worker did not start ({state}); its output: {''.join(seen)!r}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the process wrote to its log (stderr): why it did not start, or stop."""
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").rstrip().splitlines()[-lines:]
        return f"--- {self.log_path}, last {len(text)} lines:\n" + "\n".join(text)

    def stop(self) -> int:
        """SIGINT, as Ctrl-C; its exit status (at once when it had already ended)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()

    def kill(self) -> int:
        """SIGKILL, as a machine's crash would: no shutdown, running activities lost."""
        self.process.send_signal(signal.SIGKILL)
        try:
            return self.process.wait(timeout=10)
        finally:
            self._log.close()


class ApiProcess:
    """`python starter.py serve`: the HTTP intake in its own process, as an operator runs it."""

    def __init__(self, env: dict[str, str], log: Path, port: int, token: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "starter.py", "serve"],
            cwd=PROJECT_ROOT,
            env=env | {"CASEWORK_API_PORT": str(port), "CASEWORK_API_TOKENS": token} | NO_LIMITS,
            stdout=self._log,
            stderr=self._log,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        if not wait_healthy(self.url, timeout, running=lambda: self.process.poll() is None):
            raise RuntimeError(f"the API did not start (see {self._log.name})")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()

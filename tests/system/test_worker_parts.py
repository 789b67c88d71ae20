"""`worker.py --only cases` and `--only deliveries`: a case decided in one process has its mail sent
by the other, which connects to the first one's embedded server and mail sink; mail waits for a
sender rather than being lost; the deliveries part refuses what it cannot do, in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.mail_sink import read_mailbox
from adapters.settings import PROJECT_ROOT
from scaffold.processes import WorkerProcess
from tests.system.test_worker_e2e import cli, isolated_env
from workflows.deliveries import deliveries_queue

pytestmark = pytest.mark.e2e


def worker_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "worker.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def subjects(tmp_path: Path) -> list[str]:
    return [str(m["Subject"]) for m in read_mailbox(tmp_path / "var" / "mail")]


def test_the_deliveries_part_sends_the_mail_of_cases_decided_by_the_cases_part(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    cases = WorkerProcess(env, tmp_path / "cases.log", args=("--only", "cases", "--seed", "directory.toml"))
    deliveries: WorkerProcess | None = None
    try:
        assert "cases only: `worker.py --only deliveries` sends their mail" in cases.wait_ready()
        opened = cli(
            env, "open", "--request-id", "parts-1", "--tenant", "contoso",
            "--requester", "admin@contoso.example", "--category", "technical", "--severity", "A",
            "--title", "Teams calls drop", "--description", "Every call drops after a minute",
            "--email", "admin@contoso.example",
        )  # fmt: skip
        assert opened["case"]["status"] == "awaiting_first_response", "the cases part decided it"
        time.sleep(2)  # with a deliveries worker in the process, the mail is at the sink in < 1 s
        assert subjects(tmp_path) == [], "no sender runs: the case's mail waits for one"

        deliveries = WorkerProcess(env, tmp_path / "deliveries.log", args=("--only", "deliveries"))
        banner = deliveries.wait_ready()
        assert "casework deliveries worker is running" in banner
        assert deliveries_queue(env["CASEWORK_TASK_QUEUE"]) in banner
        assert f"localhost:{env['CASEWORK_DEV_SERVER_PORT']}" in banner, "the embedded server of the other"
        for _ in range(150):
            if any("We have received your support request" in s for s in subjects(tmp_path)):
                break
            time.sleep(0.2)
        sent = subjects(tmp_path)
        number = opened["case"]["case_number"]  # what mail subjects name the case by (CW-10482)
        assert any(s.startswith(f"[{number}] We have received your support request") for s in sent)
        assert any("New severity A case" in s for s in sent), "the support queue was told too"
    finally:
        if deliveries is not None:
            assert deliveries.stop() == 0, (tmp_path / "deliveries.log").read_text()
        assert cases.stop() == 0, (tmp_path / "cases.log").read_text()


def test_the_deliveries_part_without_a_server_says_where_it_looked(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    done = worker_run(env, "--only", "deliveries")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "is running" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"cannot reach Temporal at localhost:{env['CASEWORK_DEV_SERVER_PORT']}"), last
    assert "TEMPORAL_ADDRESS" in last


def test_the_deliveries_part_refuses_the_case_workers_options(tmp_path: Path) -> None:
    done = worker_run(isolated_env(tmp_path), "--only", "deliveries", "--api")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "--only deliveries sends mail only: run --api and --seed with the case worker" in done.stderr

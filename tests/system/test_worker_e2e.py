"""`make run`'s worker end to end: embedded dev server, a case driven by the CLI, restart keeps it."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.mail_sink import free_port, read_mailbox
from adapters.settings import PROJECT_ROOT
from scaffold.processes import WorkerProcess as Worker

pytestmark = pytest.mark.e2e


def cli(env: dict[str, str], *argv: str) -> Any:
    done = subprocess.run(
        [sys.executable, "starter.py", *argv],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def open_case(env: dict[str, str]) -> Any:
    """The same request each time: the second call must find the first case."""
    return cli(
        env, "open", "--request-id", "e2e-1", "--tenant", "contoso", "--requester", "admin@contoso.example",
        "--category", "technical", "--severity", "A", "--title", "Teams calls drop",
        "--description", "Every call drops after a minute", "--email", "admin@contoso.example",
    )  # fmt: skip


def test_worker_runs_a_case_and_keeps_it_across_a_restart(tmp_path: Path) -> None:
    env = isolated_env(tmp_path) | {
        "CASEWORK_HEALTH_PORT": str(free_port()),
        "CASEWORK_INBOUND_SMTP_PORT": str(free_port()),  # not 2525: another worker may have it
        "METRICS_PORT": str(free_port()),
    }
    worker = Worker(env, tmp_path / "worker.log")
    try:
        banner = worker.wait_ready()
        assert f"http://localhost:{env['CASEWORK_UI_PORT']}" in banner
        assert f":{env['CASEWORK_INBOUND_SMTP_PORT']} (replies to case+<token>@" in banner
        with urllib.request.urlopen(
            f"http://127.0.0.1:{env['CASEWORK_HEALTH_PORT']}/healthz", timeout=5
        ) as live:
            assert live.status == 200
        opened = open_case(env)
        case = opened["case"]
        assert opened["created"] is True
        assert case["case_id"] == "case-contoso.e2e-1" and case["status"] == "awaiting_first_response"
        assert case["severity"] == "A" and case["first_response"]["target"] == "1h"

        listed: list[dict[str, Any]] = []
        for _ in range(50):
            listed = cli(env, "list", "--severity", "A")
            if listed:
                break
            time.sleep(0.2)
        assert [c["case_id"] for c in listed] == ["case-contoso.e2e-1"]

        assert cli(env, "respond", "case-contoso.e2e-1", "--engineer", "li.wei", "--message", "Checking")[
            "status"
        ] == ("in_progress")
        resolved = cli(
            env, "resolve", "case-contoso.e2e-1", "--engineer", "li.wei", "--summary", "Codec fixed"
        )
        assert resolved["status"] == "resolved"  # an action answers a receipt; the case is read apart
        assert cli(env, "show", "case-contoso.e2e-1")["first_response"]["state"] == "met"
        metrics_url = f"http://127.0.0.1:{env['METRICS_PORT']}/metrics"
        with urllib.request.urlopen(metrics_url, timeout=5) as scraped:
            metrics = scraped.read().decode()
        assert "casework_cases_opened" in metrics and 'severity="A"' in metrics
        assert "casework_first_response_sla" in metrics and "casework_cases_resolved" in metrics
        assert "temporal_workflow_task" in metrics or "temporal_request" in metrics, (
            "the SDK's own metrics too"
        )
    finally:
        assert worker.stop() == 0, worker.log_tail()

    subjects = [m["Subject"] for m in read_mailbox(tmp_path / "var" / "mail")]
    number = case["case_number"]  # what mail subjects name the case by (CW-10482)
    assert any(s.startswith(f"[{number}] We have received your support request") for s in subjects)
    assert any(s.startswith(f"[{number}] Your case is resolved") for s in subjects)
    assert any("New severity A case" in s for s in subjects), (
        "the support queue was told (by email: no webhook set)"
    )
    listed = cli(env, "outbox")
    assert {m["subject"] for m in listed} == set(subjects)
    assert (tmp_path / "var" / "temporal.db").exists()

    again = Worker(env, tmp_path / "worker.log")
    try:
        again.wait_ready()
        shown = cli(env, "show", "case-contoso.e2e-1")
        assert shown["status"] == "resolved", "the case survived the restart of the server and worker"
        reopened = open_case(env)
        assert reopened["created"] is False and reopened["case"]["status"] == "resolved"
    finally:
        assert again.stop() == 0


def modes(var: Path) -> dict[str, str]:
    """Every path under var/ (var/ too) with its permission bits, as `ls -l` would judge them."""
    found = {".": oct(stat.S_IMODE(var.stat().st_mode))}
    for path in var.rglob("*"):
        found[str(path.relative_to(var))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """A worker's environment of its own: var/ under tmp_path, free ports, a fresh task queue, no
    Temporal profile, no liveness endpoint or inbound mail, nothing of the caller's casework
    variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SMTP_", "CASEWORK_", "METRICS_"))
    }
    return env | {
        "CASEWORK_VAR": str(tmp_path / "var"),
        "CASEWORK_DEV_SERVER_PORT": str(free_port()),
        "CASEWORK_UI_PORT": str(free_port()),
        "CASEWORK_API_PORT": str(free_port()),
        "CASEWORK_SMTP_SINK_PORT": str(free_port()),
        "CASEWORK_CODEC_PORT": str(free_port()),
        "CASEWORK_HEALTH_PORT": "0",
        "CASEWORK_INBOUND_SMTP_PORT": "0",
        "CASEWORK_TASK_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "no-such-temporal.toml"),
    }


def test_var_is_private_to_the_user_fresh_and_after_older_versions(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = isolated_env(tmp_path)
    old_umask = os.umask(0o022)  # the user's usual umask: casework must not rely on a stricter one
    try:
        for attempt in ("fresh", "after an older version"):
            if attempt != "fresh":  # what older code left: everything readable by everyone, an archive
                (var / "archive").mkdir(exist_ok=True)
                (var / "archive" / "case-old.json").write_text("{}")
                for path in [var, *var.rglob("*")]:
                    path.chmod(0o755 if path.is_dir() else 0o644)
            worker = Worker(env, tmp_path / "worker.log")
            try:
                worker.wait_ready()
                opened = cli(
                    env, "open", "--request-id", f"private-{attempt[0]}",
                    "--tenant", "contoso", "--requester", "admin@contoso.example",
                    "--category", "technical", "--severity", "B", "--title", "Mail is slow",
                    "--description", "Since 9:00", "--email", "admin@contoso.example",
                )  # fmt: skip
                assert opened["created"] is True
                for _ in range(100):  # the acknowledgement arrives at the sink
                    if len(list(var.glob("mail/*.eml"))) >= (1 if attempt == "fresh" else 2):
                        break
                    time.sleep(0.1)
            finally:
                assert worker.stop() == 0, (tmp_path / "worker.log").read_text()
            found = modes(var)
            assert {"temporal.db", "casework.db", "mail"} <= set(found), found
            assert any(name.startswith("mail/") for name in found), "mail with the customer's data"
            for name, mode in found.items():
                expected = "0o700" if (var / name).is_dir() else "0o600"
                assert mode == expected, f"{attempt}: var/{name} is {mode}"
    finally:
        os.umask(old_umask)


def test_a_taken_inbound_mail_port_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    """Every acknowledgement says "reply to this message": no worker runs with nothing reading."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = isolated_env(tmp_path) | {"CASEWORK_INBOUND_SMTP_PORT": str(port)}
        done = subprocess.run(
            [sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "casework worker is running" not in done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(
        f"CASEWORK_INBOUND_SMTP_PORT={port}: the inbound mail listener cannot listen on 127.0.0.1:{port}"
    ), done.stderr

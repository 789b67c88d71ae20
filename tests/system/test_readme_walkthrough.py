"""The README's walkthrough, as a new user types it after `make run` (issue 27, finding 5): every
shell block marked `<!-- walkthrough ... -->` runs, in order, with bash, against a real
`worker.py --seed directory.toml --api` (what `make run` starts) on free ports with a var/ of its
own. A block that fails (a command's non-zero exit, a curl that gets an error status) fails the
test with its output, so the README cannot drift from what casework does."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from adapters.mail_sink import read_mailbox
from adapters.settings import PROJECT_ROOT
from scaffold.processes import WorkerProcess
from tests.system.test_worker_e2e import isolated_env

pytestmark = pytest.mark.e2e

MARK = re.compile(r"^<!-- walkthrough\b([^\n]*)-->\n```sh\n(.*?)^```$", re.M | re.S)
OFFLINE = "without a server"  # in the marker: the block needs no worker, so it runs while one starts


def walkthrough_blocks(readme: str) -> list[tuple[str, bool]]:
    """The shell blocks the README marks as its walkthrough, in order, each with whether it needs
    the running worker."""
    return [(m[2], OFFLINE not in m[1]) for m in MARK.finditer(readme)]


def run_block(block: str, env: dict[str, str], api: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", block.replace("localhost:8000", api)],  # this test's port
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def output_of(number: int, block: str, running: subprocess.Popen[str]) -> str:
    """The block's stdout; a block that fails (a command's exit status, a curl's HTTP error)
    fails the test with what it printed."""
    out, err = running.communicate(timeout=120)
    assert running.returncode == 0, (
        f"README walkthrough block {number} failed (exit {running.returncode}):\n{block}\n"
        f"--- stdout:\n{out[-2000:]}\n--- stderr:\n{err[-2000:]}"
    )
    return out


def test_the_marker_finds_only_marked_blocks() -> None:
    text = (
        "<!-- walkthrough -->\n```sh\necho one\n```\n\n```sh\necho unmarked\n```\n"
        "<!-- walkthrough: without a server -->\n```sh\necho two\necho three\n```\n"
    )
    assert walkthrough_blocks(text) == [("echo one\n", True), ("echo two\necho three\n", False)]


def test_every_walkthrough_block_of_the_readme_runs_against_make_run(tmp_path: Path) -> None:
    blocks = walkthrough_blocks((PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 5 and blocks[0][1], "the README marks its walkthrough, opening a case first"
    env = isolated_env(tmp_path)
    api = f"localhost:{env['CASEWORK_API_PORT']}"
    worker = WorkerProcess(env, tmp_path / "worker.log")  # --seed directory.toml --api, as make run
    outputs: dict[int, str] = {}
    try:
        offline = {n: run_block(block, env, api) for n, (block, served) in enumerate(blocks) if not served}
        worker.wait_ready()
        for number, (block, served) in enumerate(blocks):
            if served:
                outputs[number] = output_of(number + 1, block, run_block(block, env, api))
        for number, running in offline.items():
            outputs[number] = output_of(number + 1, blocks[number][0], running)
    finally:
        assert worker.stop() == 0, worker.log_tail()

    opened = json.loads(outputs[0][: outputs[0].index("\n}\n") + 2])
    assert opened["created"] is True
    assert opened["case"]["case_number"] == "CW-10001", "the number the walkthrough uses next"
    assert opened["case"]["status"] == "awaiting_first_response"
    everything = "".join(outputs.values())
    assert '"status": "resolved"' in everything, "the engineer's answer and resolution were taken"
    assert '"case_id":"case-contoso.web-1"' in everything, "the case opened over HTTP"
    assert '"agreement_required"' in everything and "token_sha256" in everything
    subjects = [str(m["Subject"]) for m in read_mailbox(tmp_path / "var" / "mail")]
    chinese = [s for s in subjects if s.startswith("[CW-10001]") and re.search("[\u4e00-\u9fff]", s)]
    assert chinese, f"the customer opened with --language zh-CN reads Chinese: {subjects}"

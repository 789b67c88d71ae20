"""schemathesis over /openapi.json against the whole stack `make run` starts: no input yields a 500.

The worker, the embedded Temporal dev server and the API run as the real processes, every listener
on a free port (a `make run` on this machine keeps its default ports); the generated requests are
sent by a process of their own (tests/api_fuzz_process.py says why); examples are bounded per
operation so the run stays short.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from adapters.mail_sink import free_port
from adapters.settings import PROJECT_ROOT
from scaffold.processes import NO_LIMITS
from scaffold.processes import WorkerProcess as Worker
from tests.faults.batch import FUZZ_SCALE
from tests.system.test_worker_e2e import isolated_env

TOKEN = "fuzz-token-0123456789"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("fuzz")
    env = isolated_env(var) | {
        "CASEWORK_HEALTH_PORT": str(free_port()),
        "CASEWORK_INBOUND_SMTP_PORT": str(free_port()),  # never 2525: `make run` may have it
        "CASEWORK_API_TOKENS": TOKEN,
        **NO_LIMITS,
    }
    worker = Worker(env, var / "worker.log")
    try:
        worker.wait_ready()
        yield f"http://127.0.0.1:{env['CASEWORK_API_PORT']}"
    finally:
        assert worker.stop() == 0, worker.log_tail()


def test_no_generated_request_gets_a_server_error(api_url: str) -> None:
    """Every operation of /openapi.json, a bounded number of generated requests each."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.api_fuzz_process", api_url, TOKEN, str(12 * FUZZ_SCALE)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])
    statuses = {code: count for code, count in run["statuses"]}
    print(f"schemathesis: {run['operations']} operations, {run['requests']} requests, statuses {statuses}")
    assert run["operations"] >= 10
    assert run["requests"] >= 10 * run["operations"], "the run really sent requests"
    # Valid requests got past validation to the cases (a random contact address is rarely one of
    # the tenant's, so openings are mostly 422; case reads and actions reach the gateway: 404, 409).
    assert {200, 404} <= set(statuses), "valid requests were generated and reached the cases"
    assert all(code < 500 for code in statuses)
    assert run["threads"] == 1, "the requests were generated and sent by one thread"

"""schemathesis over /openapi.json against the whole stack `make run` starts: no input yields a 500.

The worker, the embedded Temporal dev server and the API run as the real processes; examples are
bounded per operation so the run stays short.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from adapters.mail_sink import free_port
from scaffold.processes import NO_LIMITS
from scaffold.processes import WorkerProcess as Worker
from tests.faults.batch import FUZZ_SCALE

TOKEN = "fuzz-token-0123456789"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SMTP_", "CASEWORK_WEBHOOK"))
    } | {
        "CASEWORK_SMTP_SINK_PORT": str(free_port()),
        "CASEWORK_HEALTH_PORT": str(free_port()),
        "CASEWORK_VAR": str(var / "var"),
        "CASEWORK_DEV_SERVER_PORT": str(free_port()),
        "CASEWORK_UI_PORT": str(free_port()),
        "CASEWORK_API_PORT": str(port),
        "CASEWORK_API_TOKENS": TOKEN,
        **NO_LIMITS,
        "CASEWORK_TASK_QUEUE": f"fuzz-{uuid.uuid4().hex[:8]}",
        "TEMPORAL_CONFIG_FILE": str(var / "none.toml"),
    }
    worker = Worker(env, Path(var / "worker.log"))
    try:
        worker.wait_ready()
        yield f"http://127.0.0.1:{port}"
    finally:
        assert worker.stop() == 0


def test_no_generated_request_gets_a_server_error(api_url: str) -> None:
    """Every operation of /openapi.json, a bounded number of generated requests each."""
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    calls: list[int] = []

    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @given(operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=12 * FUZZ_SCALE,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(
                base_url=api_url,
                headers={"Authorization": f"Bearer {TOKEN}"},
                checks=[not_a_server_error],
                timeout=30,
            )
            calls.append(response.status_code)

        check()

    statuses = sorted(Counter(calls).items())
    print(f"schemathesis: {len(operations)} operations, {len(calls)} requests, statuses {statuses}")
    assert len(calls) >= 10 * len(operations), "the run really sent requests"
    # Valid requests got past validation to the cases (a random contact address is rarely one of
    # the tenant's, so openings are mostly 422; case reads and actions reach the gateway: 404, 409).
    assert {200, 404} <= set(calls), "valid requests were generated and reached the cases"
    assert all(code < 500 for code in calls)

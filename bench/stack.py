"""The stack a benchmark runs on: embedded dev server, real worker and activities, SQLite, SMTP sink."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from scaffold.local_stack import local_services, start_local_server
from support.rules.request import CaseRequest

# The worker tuning a benchmark's worker processes take from the benchmark's own environment
# (`CASEWORK_POLLERS=auto python -m bench.lifecycle_bench`); in-process workers read it anyway.
TUNING = (
    "CASEWORK_MAX_CONCURRENT_ACTIVITIES",
    "CASEWORK_MAX_CONCURRENT_WORKFLOW_TASKS",
    "CASEWORK_MAX_CACHED_WORKFLOWS",
    "CASEWORK_POLLERS",
    "CASEWORK_STICKY_TIMEOUT",
    "CASEWORK_EAGER_ACTIVITIES",
)


def tuning_env() -> dict[str, str]:
    """The tuning variables set in this process, to pass to a worker process (and to report)."""
    return {name: os.environ[name] for name in TUNING if os.environ.get(name)}


@dataclass
class Stack:
    env: WorkflowEnvironment
    settings: Settings
    tmp: Path


@asynccontextmanager
async def bench_stack(policy: Path | None = None) -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory() as tmp, local_services(Path(tmp) / "var", policy) as settings:
        env = await start_local_server()
        try:
            yield Stack(env, settings, Path(tmp))
        finally:
            await env.shutdown()


def bench_request(request_id: str, severity: str = "B") -> CaseRequest:
    return CaseRequest.model_validate(
        {
            "request_id": request_id,
            "tenant_id": "fabrikam",
            "requester": "it@fabrikam.example",
            "category": "technical",
            "severity": severity,
            "title": "Benchmark case",
            "description": "A case the benchmark drives.",
            "contact_email": "it@fabrikam.example",
        }
    )

"""The stack a benchmark runs on: embedded dev server, real worker and activities, SQLite, SMTP sink."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from scaffold.local_stack import local_services, start_local_server
from support.request import CaseRequest


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

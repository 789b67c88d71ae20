"""The stack a benchmark runs on: embedded dev server, real worker and activities, SQLite, SMTP sink."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.directory_store import import_directory
from service.codec import data_converter
from service.database import open_database
from service.mail_sink import MailSink
from service.settings import PROJECT_ROOT, Settings, venv_binary
from service.temporal import register_search_attributes
from support.directory import parse_directory_file
from support.request import CaseRequest


@dataclass
class Stack:
    env: WorkflowEnvironment
    settings: Settings
    tmp: Path


@asynccontextmanager
async def bench_stack(policy: Path | None = None) -> AsyncIterator[Stack]:
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        sink = MailSink(var / "mail").start()
        settings = Settings(
            task_queue=f"bench-{uuid.uuid4().hex[:6]}",
            policy_path=policy or PROJECT_ROOT / "policy.toml",
            directory_path=PROJECT_ROOT / "directory.toml",
            var_dir=var,
            database_url=None,
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_security="none",
            health_port=None,
        )
        engine = open_database(settings)
        import_directory(
            engine, parse_directory_file(settings.directory_path.read_text(), str(settings.directory_path))
        )
        engine.dispose()
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(venv_binary("temporal")),
            data_converter=data_converter(None),
            dev_server_log_level="error",
        )
        try:
            await register_search_attributes(env.client)
            yield Stack(env, settings, Path(tmp))
        finally:
            await env.shutdown()
            sink.stop()


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

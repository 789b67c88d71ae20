"""An action sent while the case's worker restarts waits and lands once, or is answered 503 with
Retry-After and changes nothing (application/cases.py `Cases._act`, support/case/action_ids.py).

Real processes: the dev server, `worker.py` processes SIGKILLed and started again, the HTTP API.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.mail_sink import MailSink
from adapters.settings import Settings
from application.cases import ACTION_SETTLE, Cases
from bootstrap.api import api_app
from scaffold.processes import WorkerProcess, worker_env
from support.case.action_ids import action_update_id, take_until, too_late
from support.case.actions import FirstResponse, InternalNote
from tests.requests import case_request
from tests.system.test_api import as_key, keyring, serve

ENGINEER = "li.wei"


def test_an_action_id_carries_the_instant_it_may_be_taken_until() -> None:
    until = datetime(2026, 12, 6, 10, 0, 30, 250_000, tzinfo=UTC)
    update_id = action_update_id("ab" * 16, until)
    assert take_until(update_id) == until
    assert not too_late(update_id, until) and too_late(update_id, until + timedelta(milliseconds=1))
    for other in ("reply-<abc@contoso.example>", "4f1c6a6e-8f0c-4b1e-9d7e-0a5c2b9d1e77", "act-xyz-1"):
        assert take_until(other) is None and not too_late(other, until + timedelta(days=1))


class Workers:
    """`worker.py` processes on the test's task queue, one at a time."""

    def __init__(self, settings: Settings, target: str, log: Path) -> None:
        self._env = worker_env(settings, target)
        self._log = log
        self.running: WorkerProcess | None = None

    def start(self) -> WorkerProcess:
        self.running = WorkerProcess(self._env, self._log, args=())
        return self.running

    def kill(self) -> None:
        assert self.running is not None
        self.running.process.send_signal(signal.SIGKILL)
        self.running.process.wait(timeout=10)
        self.running = None

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


@pytest.fixture
def workers(dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    made = Workers(settings, dev_env.client.service_client.config.target_host, tmp_path / "worker.log")
    try:
        yield made
    finally:
        made.stop()


async def open_answered_case(cases: Cases, workers: Workers) -> str:
    await asyncio.to_thread(workers.start().wait_ready)
    request = case_request(f"restart-{uuid.uuid4().hex[:8]}", "contoso")
    case_id = (await cases.open(request)).case.case_id
    await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking at it"))
    return case_id


async def test_an_action_sent_while_the_worker_restarts_waits_and_lands_once(
    dev_env: WorkflowEnvironment, settings: Settings, workers: Workers, mail_sink: MailSink
) -> None:
    # (a long wait: on this shared 2-core machine a replacement may take more than the default 30 s
    # to start and take the case over; the 503 beyond the wait is the next test's)
    cases = Cases(dev_env.client, settings.task_queue, action_wait=timedelta(seconds=120))
    case_id = await open_answered_case(cases, workers)
    workers.kill()  # the case's worker dies with the case in its cache (its sticky queue waits 10 s)

    sent = time.monotonic()
    note = asyncio.create_task(
        cases.act(case_id, InternalNote(engineer=ENGINEER, note="Called the customer"))
    )
    replacement = workers.start()
    await asyncio.to_thread(replacement.wait_ready)
    await note  # its receipt
    view = await cases.show(case_id)
    waited = time.monotonic() - sent
    print(f"an action sent as the worker was killed waited {waited:.1f} s for its replacement")

    assert [n.note for n in view.notes] == ["Called the customer"], "landed once"
    shown = await cases.show(case_id)
    assert [n.note for n in shown.notes] == ["Called the customer"]


async def test_an_action_no_worker_takes_in_time_is_a_503_and_changes_nothing(
    dev_env: WorkflowEnvironment, settings: Settings, workers: Workers, mail_sink: MailSink
) -> None:
    """No worker for longer than the action may wait: the API answers 503 with Retry-After, and
    when a worker comes back the case refuses the late action (it was told "not carried out")."""
    wait = timedelta(seconds=2)
    cases = Cases(dev_env.client, settings.task_queue, action_wait=wait)
    case_id = await open_answered_case(cases, workers)
    workers.kill()

    engine = open_database(settings)
    server, task, url = await serve(api_app(settings, cases=cases, keyring=keyring(), engine=engine))
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            sent = time.monotonic()
            answer = await http.post(
                f"/cases/{case_id}/notes", json={"note": "Too late"}, headers=as_key(ENGINEER)
            )
            waited = time.monotonic() - sent
    finally:
        server.should_exit = True
        await task
        engine.dispose()
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"].isdigit()
    assert "not carried out" in answer.json()["message"] and "send it again" in answer.json()["message"]
    assert waited <= (wait + ACTION_SETTLE).total_seconds() + 5, "the wait is bounded"

    await asyncio.to_thread(workers.start().wait_ready)
    await cases.act(case_id, InternalNote(engineer=ENGINEER, note="Sent again"))
    after = await cases.show(case_id)  # an action answers a receipt (issue 26)
    assert [n.note for n in after.notes] == ["Sent again"], "the late action changed nothing"

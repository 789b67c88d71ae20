"""An opening not decided within the open wait: the 503 says what the server knows of the case's
workers (intake.cases.Cases._decided_view), so a busy worker is not reported as a missing one.

Real servers: the dev server describes a task queue's pollers; the time-skipping server does not
(it answers UNIMPLEMENTED), which is the wording that claims neither."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from intake.cases import Cases, Unavailable
from tests.conftest import case_clock, running_worker
from tests.requests import case_request

OPEN_WAIT = timedelta(seconds=2)


def without_personal_data(message: str, requester: str) -> None:
    assert requester not in message and requester.split("@")[0] not in message, message


async def test_no_worker_at_all_names_the_task_queue_nobody_polls(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    cases = Cases(dev_env.client, settings.task_queue, open_wait=OPEN_WAIT)
    request = case_request(request_id)
    with pytest.raises(Unavailable) as waiting:
        await cases.open(request)
    message = str(waiting.value)
    assert f"no worker is polling the task queue '{settings.task_queue}'" in message, message
    assert "a worker is running" not in message, message
    assert f"case {request.case_id} is recorded" in message and "same request_id" in message, message
    without_personal_data(message, request.requester)


async def test_a_running_worker_that_cannot_decide_in_time_is_not_reported_missing(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: Path
) -> None:
    # The worker runs and polls, but its context activity cannot read the policy file: it retries,
    # and the case is not decided within the open wait (as under load, the worker is there).
    settings = dataclasses.replace(settings, policy_path=tmp_path / "no-such-policy.toml")
    request = case_request(request_id)
    async with running_worker(dev_env.client, settings):
        cases = Cases(dev_env.client, settings.task_queue, open_wait=OPEN_WAIT)
        with pytest.raises(Unavailable) as waiting:
            await cases.open(request)
    message = str(waiting.value)
    assert "a worker is running but has not decided it yet" in message, message
    assert "cannot read the policy file" in message, message
    assert "no worker" not in message and "none is running" not in message, message
    assert f"case {request.case_id} is recorded" in message and "same request_id" in message, message
    without_personal_data(message, request.requester)


async def test_a_server_that_cannot_describe_the_queue_gets_a_wording_that_claims_neither(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    cases = Cases(
        time_env.client, settings.task_queue, open_wait=OPEN_WAIT, case_clock=case_clock(time_env.client)
    )
    request = case_request(request_id)
    with pytest.raises(Unavailable) as waiting:
        await cases.open(request)
    message = str(waiting.value)
    assert "no worker" not in message and "a worker is running" not in message, message
    assert f"case {request.case_id} is recorded" in message and "same request_id" in message, message
    without_personal_data(message, request.requester)

"""An opening not decided within the open wait: the 503 says what the server knows of the case's
workers (application.cases.Cases._decided_view), so a busy worker is not reported as a missing one.

Real servers: the dev server describes a task queue's pollers; the time-skipping server does not
(it answers UNIMPLEMENTED), which is the wording that claims neither."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from adapters.settings import Settings
from application.cases import Cases, Unavailable
from support.case.record import CaseStart
from support.policies.vocabulary import CaseStatus
from tests.conftest import case_clock, running_worker
from tests.requests import case_request
from workflows.support_case import SupportCaseWorkflow

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
    settings = settings.replace(policy_path=tmp_path / "no-such-policy.toml")
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


@workflow.defn(name=SupportCaseWorkflow.__name__)
class CannotRunCases:
    """A worker's code that fails every workflow task of a case (as a worker killed in each task
    would time them out): the case's task attempts grow, and the server refuses updates and queries
    with "Workflow Task in failed state" from the third attempt on."""

    @workflow.run
    async def run(self, start: CaseStart) -> None:
        raise RuntimeError("this worker cannot run cases")  # fails the task, not the case


async def test_an_opening_whose_task_is_failing_is_decided_once_a_worker_can(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    """The intake asks again within the open wait instead of answering 503 at once: seen in the
    fault batch, where every answer in the "failed state" was a 503 within milliseconds and the
    caller's tries ran out while the case waited for a worker that came back."""
    wait = timedelta(seconds=60)
    cases = Cases(dev_env.client, settings.task_queue, open_wait=wait)
    request = case_request(request_id)
    loop = asyncio.get_running_loop()
    async with Worker(
        dev_env.client,
        task_queue=settings.task_queue,
        workflows=[CannotRunCases],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        opening = asyncio.create_task(cases.open(request))
        while True:  # until the case's task has failed twice (the server counts the attempts)
            with contextlib.suppress(RPCError):
                described = await dev_env.client.get_workflow_handle(request.case_id).describe()
                if described.raw_description.pending_workflow_task.attempt >= 3:
                    break
            assert not opening.done(), opening
            await asyncio.sleep(0.2)
    failing_since = loop.time()
    assert not opening.done(), "the opening waits while the case's task fails"
    async with running_worker(dev_env.client, settings):
        opened = await opening
    assert opened.created and opened.case.status is not CaseStatus.NEW
    assert loop.time() - failing_since < wait.total_seconds()

"""Fault injection: the worker is SIGKILLed at random moments while cases are in flight.

Every case must still reach the end its script drives it to, with the same SLA verdicts as the
same script without kills, and no notification may be lost or doubled (one repeat per kill is
possible only between the SMTP server accepting a message and the ledger write: it carries the
same Message-ID, so mail systems see a duplicate, and it is counted). Sizes: FAULT_CASES
(20 in `make test`, 200 in `make faults`).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench.policies import fast_policy
from intake.cases import ActionRejected, Cases
from service.mail_sink import MailSink, read_mailbox
from service.settings import Settings
from support.actions import FirstResponse, Resolution, SurveyAnswer
from support.case_view import CaseView
from support.vocabulary import CaseStatus
from tests.conftest import running_worker
from tests.faults.worker_env import worker_env
from tests.requests import case_request
from tests.test_worker_e2e import Worker

CASES = int(os.environ.get("FAULT_CASES", "20"))
KILLS = 3


async def when_ready(action: Callable[[], Awaitable[object]]) -> None:
    """A case opened while its worker was being killed may still be opening: try again, as asked."""
    for _ in range(120):
        try:
            await action()
            return
        except ActionRejected as rejected:
            if "try again" not in str(rejected):
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("the case never finished opening")


async def script(cases: Cases, request_id: str) -> CaseView:
    """open -> first response -> resolve -> (reopen window) -> survey -> closed."""
    case_id = (await cases.open(case_request(request_id, "fabrikam", severity="B"))).case.case_id
    await when_ready(lambda: cases.respond(case_id, FirstResponse(engineer="li.wei", message="On it")))
    await cases.resolve(case_id, Resolution(engineer="li.wei", summary="Done"))
    for _ in range(600):
        if (await cases.show(case_id)).status is CaseStatus.CLOSED:
            break
        await asyncio.sleep(0.1)
    await cases.answer_survey(case_id, SurveyAnswer(score=4))
    view: CaseView = await cases.client.get_workflow_handle(case_id, result_type=CaseView).result()
    return view


def verdicts(view: CaseView) -> list[tuple[str, int, str]]:
    return [
        (r.clock.value if hasattr(r.clock, "value") else str(r.clock), r.cycle, r.state.value)
        for r in view.sla_results
    ]


async def run_all(cases: Cases, prefix: str) -> list[CaseView]:
    semaphore = asyncio.Semaphore(25)

    async def one(i: int) -> CaseView:
        async with semaphore:
            return await script(cases, f"{prefix}-{i}")

    return await asyncio.gather(*(one(i) for i in range(CASES)))


async def test_sigkilled_worker_loses_nothing(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, mail_sink: MailSink
) -> None:
    policy = fast_policy(tmp_path)
    calm = Settings(
        **{**settings.__dict__, "policy_path": policy, "task_queue": settings.task_queue + "-calm"}
    )
    run = uuid.uuid4().hex[:6]
    async with running_worker(dev_env.client, calm) as calm_cases:
        expected = await run_all(calm_cases, f"calm-{run}")

    target = dev_env.client.service_client.config.target_host
    env = worker_env(settings, policy, target, mail_sink, tmp_path)
    log = tmp_path / "worker.log"
    workers = [Worker(env, log, args=())]
    workers[0].wait_ready()
    cases = Cases(dev_env.client, settings.task_queue)
    batch = asyncio.create_task(run_all(cases, f"kill-{run}"))
    rng = random.Random(7)
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        workers[-1].process.send_signal(signal.SIGKILL)
        workers[-1].process.wait(timeout=10)
        workers.append(Worker(env, log, args=()))
        await asyncio.to_thread(workers[-1].wait_ready)
    try:
        finals = await asyncio.wait_for(batch, timeout=240)
    finally:
        workers[-1].stop()

    assert len(finals) == CASES
    assert all(v.status is CaseStatus.CLOSED and v.survey and v.survey.score == 4 for v in finals)
    assert [verdicts(v) for v in finals] == [verdicts(v) for v in expected], (
        "same SLA verdicts as without kills"
    )
    assert all(v.failed_notifications == [] for v in finals)

    messages: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for message in read_mailbox(settings.mail_dir):
        notification = str(message["X-Casework-Notification"])
        counts[notification] += 1
        messages[notification].add(str(message["Message-ID"]).strip())

    def per_case(prefix: str) -> list[set[str]]:
        return [
            {n.split("/", 1)[1] for n in counts if n.startswith(f"case-{prefix}-{i}/")} for i in range(CASES)
        ]

    killed = {n: c for n, c in counts.items() if f"kill-{run}" in n}
    repeats = sum(c - 1 for c in killed.values())
    print(
        f"fault run: {CASES} cases, {KILLS} kills, {len(killed)} notifications, {repeats} repeated by a kill"
    )
    assert per_case(f"kill-{run}") == per_case(f"calm-{run}"), "every notification of every case arrived"
    assert all(len(ids) == 1 for ids in messages.values()), "a repeat is the same message (same Message-ID)"
    assert repeats <= KILLS

"""Fault injection: the worker is SIGKILLed at random moments while cases are in flight.

Every case must still reach the end its script drives it to, with the same SLA verdicts as the
same script without kills, and no notification may be lost. A repeat is possible only for what
the SMTP server accepted and the ledger had not yet recorded when the kill came (several messages
when many were in flight, never one message twice per kill): it carries the same Message-ID, so
mail systems see a duplicate, and it is counted. Sizes: FAULT_CASES
and FAULT_KILLS
(12 cases and 2 kills in `make test`, 200 and 6 in `make faults`; 20 and 3 by default).
"""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import MailSink
from adapters.settings import Settings
from application.cases import Cases
from scaffold.processes import WorkerProcess as Worker
from scaffold.processes import worker_env
from tests.conftest import running_worker
from tests.faults.batch import (
    CASES,
    KILLS,
    LONGEST,
    all_closed_with_survey,
    mailed,
    not_as_scripted,
    patient_policy,
    per_case,
    run_all,
    verdicts,
)


async def test_sigkilled_worker_loses_nothing(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, mail_sink: MailSink
) -> None:
    policy = patient_policy(tmp_path)
    calm = Settings(
        **{**settings.__dict__, "policy_path": policy, "task_queue": settings.task_queue + "-calm"}
    )
    run = uuid.uuid4().hex[:6]
    async with running_worker(dev_env.client, calm) as calm_cases:
        expected = await run_all(calm_cases, f"calm-{run}")

    target = dev_env.client.service_client.config.target_host
    env = worker_env(settings, target, policy)
    log = tmp_path / "worker.log"
    workers = [Worker(env, log, args=())]
    workers[0].wait_ready()
    print(
        f"fault run: calm batch: the longest wait of an opening {LONGEST['opening']:.1f} s, "
        f"of an action {LONGEST['action']:.1f} s"
    )
    LONGEST.update(opening=0.0, action=0.0)
    cases = Cases(dev_env.client, settings.task_queue)
    settled = asyncio.Event()  # the last replacement is ready: the openings' tries count from then
    loop = asyncio.get_running_loop()
    began = loop.time()
    batch = asyncio.create_task(run_all(cases, f"kill-{run}", settled=settled))
    rng = random.Random(7)
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        workers[-1].process.send_signal(signal.SIGKILL)
        workers[-1].process.wait(timeout=10)
        workers.append(Worker(env, log, args=()))
        await asyncio.to_thread(workers[-1].wait_ready)
    settled.set()
    kills_over = loop.time() - began
    try:
        finals = await asyncio.wait_for(batch, timeout=240)
    finally:
        workers[-1].stop()
    print(
        f"fault run: the kills were over {kills_over:.0f} s into the batch, which took "
        f"{loop.time() - began:.0f} s; the longest wait of an opening {LONGEST['opening']:.1f} s, "
        f"of an action {LONGEST['action']:.1f} s (503s sent again included)"
    )

    assert all_closed_with_survey(finals), not_as_scripted(finals)
    assert [verdicts(v) for v in finals] == [verdicts(v) for v in expected], (
        "same SLA verdicts as without kills"
    )
    assert all(v.failed_notifications == [] for v in finals)

    counts, message_ids = mailed(settings.mail_dir)
    killed = {n: c for n, c in counts.items() if f"kill-{run}" in n}
    repeats = sum(c - 1 for c in killed.values())
    print(
        f"fault run: {CASES} cases, {KILLS} kills, {len(killed)} notifications, {repeats} repeated by a kill"
    )
    assert per_case(counts, f"kill-{run}") == per_case(counts, f"calm-{run}"), (
        "every notification of every case arrived"
    )
    assert all(len(ids) == 1 for ids in message_ids.values()), (
        "a repeat is the same message (same Message-ID)"
    )
    # A kill repeats what was accepted by the SMTP server but not yet written to the ledger: with many
    # deliveries in flight that can be several messages, but never one message twice per kill.
    assert max(killed.values(), default=1) <= 1 + KILLS

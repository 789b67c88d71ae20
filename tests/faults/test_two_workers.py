"""Fault injection: two workers, one database, and one of them SIGKILLed at random moments.

Two real `worker.py` processes, as on two machines (each its own CASEWORK_VAR, nothing on disk in
common), share what casework workers share: one Temporal server and task queue, and one
PostgreSQL database (DATABASE_URL; the directory, the delivery ledger, the closed cases), with
the same policy, secrets and encryption key. While a batch of cases runs, a killer SIGKILLs one of
the two at random moments; the other keeps working, and the killed one is started again after a
moment (it is ready before the next kill, so one worker is always up). Then:

- every case ended as scripted, with the same SLA verdicts as the same script on a calm worker;
- the one shared ledger says each notification was sent once: one row, "sent", per notification
  id, and exactly the notifications that arrived; an email arrived twice only when a kill fell
  between the SMTP server's accept and the ledger write: its first copy arrived just before a
  kill, and the repeat has the same Message-ID. (A kill repeats every delivery caught in that
  window, so one kill may repeat several: seen, 4 accepted within 0.33 s before one kill of a
  worker under load. "At most one per kill" is not a bound.)
- every case has its row in `closed_cases` once, holding the case's final view and the request's
  words (the closed record keeps them, sealed, for reads past Temporal's retention; the view the
  workflow returns never carries them);
- both workers did part of the work, and mail kept arriving while one of them was down.

Sizes: FAULT_CASES and FAULT_KILLS (12 cases and 2 kills in `make test`, 200 and 6 in
`make faults`; 20 and 3 by default).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import random
import secrets
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

from sqlalchemy import Engine, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from adapters.closed_cases import read_closed_case
from adapters.codec import KeyRing, codec_from_env, data_converter, key_ring_from_env, new_key
from adapters.database import open_database, seed_directory
from adapters.mail_sink import MailSink
from adapters.schema import closed_cases, deliveries
from adapters.settings import Settings
from application.cases import Cases
from scaffold.processes import WorkerProcess as Worker
from scaffold.processes import worker_env
from support.case.view import CaseView
from support.rules.request import RequestDetails, case_id_for
from tests.conftest import running_worker
from tests.faults.batch import (
    CASES,
    KILLS,
    TENANT,
    all_closed_with_survey,
    batch_request,
    mailed,
    not_as_scripted,
    patient_policy,
    per_case,
    run_all,
    verdicts,
)

SLOTS = ("a", "b")  # the two machines


def arrival_times(mail_dir: Path) -> dict[str, list[float]]:
    """Per notification id, when each of its emails was accepted (its file's mtime, epoch seconds)."""
    times: dict[str, list[float]] = defaultdict(list)
    for path in mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        times[str(message["X-Casework-Notification"]).strip()].append(path.stat().st_mtime)
    return {n: sorted(t) for n, t in times.items()}


# A delivery's SMTP accept and its ledger write are this close at most, even on a loaded machine.
ACCEPT_TO_LEDGER_S = 10.0


def work_in(log: Path) -> tuple[int, int]:
    """(deliveries, log lines about a case) a worker's log shows (JSON lines; every process that
    ran in this slot): both count what the worker did, the second also its workflow tasks."""
    deliveries = lines = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("case_id"):
            lines += 1
            deliveries += entry.get("event") == "delivered"
    return deliveries, lines


async def stuck_cases(client: Client, case_ids: list[str]) -> str:
    """Why the batch did not end: each case still running, with its last workflow task failure."""
    lines = []
    for case_id in case_ids:
        handle = client.get_workflow_handle(case_id)
        if (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING:
            continue
        failure = "no workflow task failure"
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                attributes = event.workflow_task_failed_event_attributes
                failure = f"event {event.event_id}: {attributes.failure.message}"
        lines.append(f"{case_id} still running ({failure})")
    return "the batch did not end in 300 s:\n" + "\n".join(lines)


def ledger_rows(engine: Engine) -> list[tuple[str, str, str]]:
    """(notification id, channel, status) of every row of the shared ledger."""
    with engine.connect() as connection:
        query = select(deliveries.c.notification_id, deliveries.c.channel, deliveries.c.status)
        return [(n, c, s) for n, c, s in connection.execute(query)]


def closed_rows(engine: Engine, keys: KeyRing | None) -> list[tuple[str, CaseView | None]]:
    """(case id, final view) of every row of `closed_cases`, the record opened with the workers'
    key ring (they seal it at rest)."""
    with engine.connect() as connection:
        ids = [case_id for (case_id,) in connection.execute(select(closed_cases.c.case_id))]
    return [(case_id, read_closed_case(engine, case_id, keys)) for case_id in ids]


async def test_two_workers_one_database_survive_kills(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, mail_sink: MailSink, postgres_url: str
) -> None:
    began = time.monotonic()
    policy = patient_policy(tmp_path)
    calm = settings.replace(policy_path=policy, task_queue=settings.task_queue + "-calm")
    run = uuid.uuid4().hex[:6]

    async def calm_run() -> tuple[list[CaseView], float]:
        """The same script on one in-process worker (SQLite, no kills), beside the faulty run (its
        seconds overlap the batch's waits for a killed worker's timeouts): what every case must end as."""
        async with running_worker(dev_env.client, calm) as calm_cases:
            views = await run_all(calm_cases, f"calm-{run}")
        return views, time.monotonic() - began

    calm_task = asyncio.create_task(calm_run())

    # One database for both: migrated and seeded once here, as an operator would before starting
    # workers (each worker migrates at start as well; the second finds nothing to do).
    shared = settings.replace(database_url=postgres_url)
    seed_directory(shared, settings.directory_path)
    engine = open_database(shared)

    # What both machines must have alike: the cluster and task queue, the database, the policy,
    # the secrets, the encryption key and where mail goes. Their var/ folders are their own.
    target = dev_env.client.service_client.config.target_host
    common = {
        "DATABASE_URL": postgres_url,
        "CASEWORK_ENCRYPTION_KEY": new_key(),
        "CASEWORK_VERIFICATION_SECRET": secrets.token_hex(32),
        "CASEWORK_WEBHOOK_SECRET": secrets.token_hex(32),
    }
    envs = {
        slot: worker_env(settings, target, policy)
        | common
        | {"CASEWORK_VAR": str(tmp_path / f"machine-{slot}")}
        for slot in SLOTS
    }
    logs = {slot: tmp_path / f"worker-{slot}.log" for slot in SLOTS}
    client = await Client.connect(
        target, namespace=dev_env.client.namespace, data_converter=data_converter(codec_from_env(common))
    )
    cases = Cases(client, settings.task_queue)

    workers = {slot: Worker(envs[slot], logs[slot], args=()) for slot in SLOTS}
    try:
        await asyncio.gather(*(asyncio.to_thread(w.wait_ready) for w in workers.values()))
        started = time.monotonic()
        batch = asyncio.create_task(run_all(cases, f"two-{run}"))
        # The first kill waits until both workers have taken cases (log lines about one), so that
        # each kill interrupts a worker holding work, and both are seen working, whatever the timing.
        for _ in range(300):
            if all(work_in(logs[slot])[1] > 0 for slot in SLOTS):
                break
            await asyncio.sleep(0.1)
        rng = random.Random(14)
        victims: list[str] = []
        killed_at: list[float] = []  # epoch seconds, once the killed process is gone
        windows: list[tuple[float, float]] = []  # epoch seconds: a worker killed .. started again
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            victim = rng.choice(SLOTS)
            victims.append(victim)
            await asyncio.to_thread(workers[victim].kill)
            killed_at.append(time.time())
            await asyncio.sleep(rng.uniform(0.3, 1.0))  # the survivor works alone meanwhile
            workers[victim] = Worker(envs[victim], logs[victim], args=())
            await asyncio.to_thread(workers[victim].wait_ready)
            windows.append((killed_at[-1], time.time()))
        try:
            finals = await asyncio.wait_for(batch, timeout=300)
        except TimeoutError:
            raise AssertionError(
                await stuck_cases(client, [case_id_for(TENANT, f"two-{run}-{i}") for i in range(CASES)])
            ) from None
        batch_s = time.monotonic() - started
        expected, calm_s = await calm_task
    finally:
        calm_task.cancel()  # nothing left to cancel unless the batch failed
        await asyncio.gather(calm_task, return_exceptions=True)
        for worker in workers.values():
            if worker.process.poll() is None:
                worker.stop()

    counts, message_ids = mailed(settings.mail_dir)
    ours = {n: c for n, c in counts.items() if f"two-{run}" in n}
    repeats = sum(c - 1 for c in ours.values())
    times = arrival_times(settings.mail_dir)
    alone_mail = sum(
        1 for n, ts in times.items() if n in ours for t in ts if any(a <= t <= b for a, b in windows)
    )
    alone_s = sum(b - a for a, b in windows)
    work = {slot: work_in(logs[slot]) for slot in SLOTS}
    try:
        rows, archived = ledger_rows(engine), closed_rows(engine, key_ring_from_env(common))
    finally:
        engine.dispose()
    print(
        f"two workers: {CASES} cases, {KILLS} kills (of {''.join(victims)}), {len(ours)} notifications, "
        f"{repeats} repeated by a kill, (deliveries, case log lines) by worker {work}, "
        f"{alone_mail} emails in {alone_s:.1f} s with one worker down, "
        f"{sum(ours.values())} emails in all; "
        f"calm run {calm_s:.1f} s, batch under kills {batch_s:.1f} s, test {time.monotonic() - began:.1f} s"
    )

    assert all_closed_with_survey(finals), not_as_scripted(finals)
    assert [verdicts(v) for v in finals] == [verdicts(v) for v in expected], (
        "same SLA verdicts as without kills"
    )
    assert all(v.failed_notifications == [] for v in finals)

    # Mail: every notification of every case arrived; a repeat only by a kill, the same message.
    assert per_case(ours, f"two-{run}") == per_case(counts, f"calm-{run}"), (
        "every notification of every case arrived"
    )
    assert all(len(message_ids[n]) == 1 for n in ours), "a repeat is the same message (same Message-ID)"
    for n in (n for n, c in ours.items() if c > 1):
        first, again = times[n][0], times[n][1]
        assert any(first <= k <= first + ACCEPT_TO_LEDGER_S and again > k for k in killed_at), (
            f"{n} was repeated without a kill right after its first copy"
        )

    # The one shared ledger: each notification once, sent, and exactly those that arrived.
    per_notification = Counter(n for n, _, _ in rows)
    assert {s for _, _, s in rows} == {"sent"}, f"not sent: {[r for r in rows if r[2] != 'sent']}"
    assert {c for _, c, _ in rows} == {"email"}
    assert all(k == 1 for k in per_notification.values()), "one ledger row per notification id"
    assert set(per_notification) == set(ours), "the ledger records exactly the notifications that arrived"

    # Closed cases: every case of the batch once, with the final view its workflow returned and
    # the words of the request it was opened with (the batch's requests carry no files).
    by_case = Counter(case_id for case_id, _ in archived)
    sent = [batch_request(f"two-{run}-{i}") for i in range(CASES)]
    requests = {case_id_for(TENANT, r.request_id): r for r in sent}
    assert sorted(by_case) == sorted(requests), "each case of the batch has its row, and only they"
    assert all(k == 1 for k in by_case.values())
    records = dict(archived)
    words = {case_id: RequestDetails.of(request) for case_id, request in requests.items()}
    kept = {v.case_id: v.model_copy(update={"request": words[v.case_id]}) for v in finals}
    differing = {
        case_id: [k for k in CaseView.model_fields if getattr(record, k, None) != getattr(kept[case_id], k)]
        for case_id, record in records.items()
        if record != kept[case_id]
    }
    assert not differing, f"the row holds the case's final view and its request's words: {differing}"

    # Both machines worked, and the survivor kept delivering while the other was down.
    assert all(work[slot][1] > 0 for slot in SLOTS), f"both workers worked on cases: {work}"
    assert KILLS == 0 or alone_mail > 0, "mail kept arriving while one worker was down"

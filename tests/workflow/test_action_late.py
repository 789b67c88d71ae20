"""An action the case took whose answer is late (its thread message still being written: the
database slow) is answered as carried out, with the case as it stands, never "send it again",
which would carry it out twice (application/cases.py `Cases._act`, `Cases._taken`).

Real dev server and case workflow; the thread's writer is a double held back by the test (this
test is about the intake's answer, not about the database).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import application.cases
from activities.case_context import CaseContextActivities
from adapters.database import open_database
from adapters.directory_store import DirectoryStore
from adapters.settings import Settings
from application.cases import ActionRejected, Cases, staff_from_file
from bootstrap.worker_runtime import WORKFLOW_RUNNER
from support.case.action_ids import ALREADY_TAKEN, action_update_id
from support.case.actions import CustomerUpdate, FirstResponse, InternalNote
from support.case.thread_message import MessageKind, ThreadMessage
from support.case.view import CaseView
from support.messaging.notifications import DeliveryReceipt, Notification
from tests.conftest import running_worker
from tests.requests import case_request
from workflows.deliveries import deliveries_queue
from workflows.support_case import SupportCaseWorkflow

ENGINEER = "li.wei"


class HeldWriter:
    """Deliveries and the archive return at once; an internal note's message is written only
    once the test lets it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.kept: list[MessageKind] = []

    @activity.defn(name="deliver_notification")
    async def deliver_notification(self, notification: Notification) -> DeliveryReceipt:
        return DeliveryReceipt(notification_id=notification.notification_id, channel="test", duplicate=False)

    @activity.defn(name="archive_case")
    async def archive_case(self, case: CaseView) -> str:
        return case.case_id

    @activity.defn(name="keep_message")
    async def keep_message(self, message: ThreadMessage) -> bool:
        if message.kind is MessageKind.NOTE:
            await self.release.wait()
        self.kept.append(message.kind)
        return True


async def test_an_action_taken_with_a_late_answer_is_answered_as_carried_out_once(
    dev_env: WorkflowEnvironment, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(application.cases, "ACTION_ATTEMPT", timedelta(seconds=1))
    client, task_queue = dev_env.client, f"late-{uuid.uuid4().hex[:8]}"
    held = HeldWriter()
    engine = open_database(settings)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[SupportCaseWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[
            CaseContextActivities(settings.policy_path, DirectoryStore(engine)).load_case_context,
            held.deliver_notification,
            held.archive_case,
            held.keep_message,
        ],
    )
    deliveries = Worker(
        client, task_queue=deliveries_queue(task_queue), activities=[held.deliver_notification]
    )
    try:
        async with deliveries, worker:
            cases = Cases(client, task_queue, staff=staff_from_file(settings.staff_file))
            case_id = (await cases.open(case_request(f"late-{uuid.uuid4().hex[:8]}"))).case.case_id
            await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking at it"))
            # the note is taken at once, and its message is held: its answer is late
            await cases.act(case_id, InternalNote(engineer=ENGINEER, note="Suspect the MX change"))
            view = await cases.show(case_id)  # an action answers a receipt (issue 26)
            assert [e.kind for e in view.timeline].count("note") == 1, "answered with the note taken"
            assert MessageKind.NOTE not in held.kept, "answered before its message was written"
            held.release.set()
            for _ in range(100):
                if MessageKind.NOTE in held.kept:
                    break
                await asyncio.sleep(0.1)
            assert held.kept.count(MessageKind.NOTE) == 1
            final = await cases.show(case_id)
            assert [e.kind for e in final.timeline].count("note") == 1, "carried out once"
    finally:
        held.release.set()
        engine.dispose()


async def test_an_action_sent_again_after_its_case_continued_as_new_is_taken_once(
    time_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    """Temporal answers a repeated update id with its first outcome within one run only: the case
    carries the action ids it took into its next run and refuses them there, and the intake takes
    that refusal as the action's success (`support.case.action_ids.remember`)."""
    policy = tmp_path / "policy.toml"
    policy.write_text(
        settings.policy_path.read_text().replace(
            "continue_as_new_after_events = 5000", "continue_as_new_after_events = 20"
        )
    )
    settings = settings.replace(policy_path=policy)
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(f"again-{uuid.uuid4().hex[:8]}"))).case.case_id
        handle = time_env.client.get_workflow_handle(case_id)
        first_run = (await handle.describe()).run_id
        note = InternalNote(engineer=ENGINEER, note="Suspect the MX change")
        update_id = action_update_id(uuid.uuid4().hex, await time_env.get_current_time() + timedelta(days=1))
        await handle.execute_update("note", note, id=update_id)
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking at it"))
        for n in range(60):  # updates to the customer (each wakes the case) until it continues as new
            if (await handle.describe()).run_id != first_run:
                break
            try:
                await cases.act(case_id, CustomerUpdate(engineer=ENGINEER, message=f"Still on it ({n})"))
            except ActionRejected:  # the case is moving to its next run
                await asyncio.sleep(0.2)
        assert (await handle.describe()).run_id != first_run, "the case continued as new"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("note", note, id=update_id)
        assert ALREADY_TAKEN in str(refused.value.cause)
        view = await cases.show(case_id)
        assert [e.message for e in view.timeline].count(f"note: {note.note}") <= 1
        assert sum("Suspect the MX change" in e.message for e in view.timeline) == 1, "taken once"

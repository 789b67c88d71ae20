"""An action the case took whose answer is late (its thread message still being written: the
database slow) is answered as carried out, with the case as it stands, never "send it again",
which would carry it out twice (intake/cases.py `Cases._act`, `Cases._taken`).

Real dev server and case workflow; the thread's writer is a double held back by the test (this
test is about the intake's answer, not about the database).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import intake.cases
from activities.case_context import CaseContextActivities
from adapters.database import open_database
from adapters.directory_store import DirectoryStore
from adapters.settings import Settings
from bootstrap.worker_runtime import WORKFLOW_RUNNER
from intake.cases import Cases, staff_from_file
from support.actions import FirstResponse, InternalNote
from support.case_view import CaseView
from support.notifications import DeliveryReceipt, Notification
from support.thread_message import MessageKind, ThreadMessage
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
    monkeypatch.setattr(intake.cases, "ACTION_ATTEMPT", timedelta(seconds=1))
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
            await cases.respond(case_id, FirstResponse(engineer=ENGINEER, message="Looking at it"))
            # the note is taken at once, and its message is held: its answer is late
            view = await cases.note(case_id, InternalNote(engineer=ENGINEER, note="Suspect the MX change"))
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

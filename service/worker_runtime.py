"""Builds the casework worker: which workflows and activities it runs, on which task queue."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from activities.archive import ArchiveActivities
from activities.case_context import CaseContextActivities
from activities.directory_store import DirectoryStore
from activities.notify import NotifyActivities
from activities.verification import VerificationActivities
from service.database import open_database
from service.settings import Settings
from workflows.support_case import SupportCaseWorkflow

WORKFLOWS = [SupportCaseWorkflow]


def build_worker(client: Client, settings: Settings, task_queue: str | None = None) -> Worker:
    # Ids go on the structured log record (extra), not into the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    store = DirectoryStore(open_database(settings))
    context = CaseContextActivities(settings.policy_path, store)
    notify = NotifyActivities(settings.outbox_path)
    archive = ArchiveActivities(settings.archive_dir)
    verification = VerificationActivities(store, notify)
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            context.load_case_context,
            notify.send_notification,
            archive.archive_case,
            verification.send_verification_code,
        ],
        # On SIGINT/SIGTERM running activities get this long to finish before they are cancelled.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )

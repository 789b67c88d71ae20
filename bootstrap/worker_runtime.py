"""Builds the casework worker: which workflows and activities it runs, on which task queue."""

from __future__ import annotations

import asyncio
import importlib.util
import py_compile
import sys
from collections.abc import Iterable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TypedDict

from sqlalchemy import Engine
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import PollerBehavior, PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum, Worker

from activities.archive import ArchiveActivities
from activities.case_context import CaseContextActivities
from activities.delivery import DeliveryActivities, DeliveryConfig
from activities.thread import ThreadActivities
from activities.verification import VerificationActivities
from adapters.case_messages import MessageStore
from adapters.channels import ChannelRegistry
from adapters.channels import registry as channel_registry
from adapters.codec import key_ring_from_env
from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger
from adapters.directory_store import DirectoryStore, VerificationFailures
from adapters.messages import Renderer
from adapters.policy_versions import PolicyVersions, this_process
from adapters.secrets import verification_key
from adapters.settings import PROJECT_ROOT, WEBHOOK_SECRET_BYTES, Settings
from adapters.staff import StaffFileError, StaffList, load_staff
from adapters.temporal import register_search_attributes
from adapters.tracing import tracing_plugins
from bootstrap.parts import Part as Part
from bootstrap.workflow_sandbox import CompiledSandboxRunner
from support.messaging.reply_addresses import reply_key
from support.messaging.survey_links import survey_key
from workflows.deliveries import deliveries_queue
from workflows.search_attributes import ALL_KEYS
from workflows.support_case import SupportCaseWorkflow

WORKFLOWS = [SupportCaseWorkflow]
GRACEFUL_SHUTDOWN = timedelta(seconds=5)  # within the 9 s a signal gives the process (runner)

# The default sandbox's restrictions, on purpose: it re-imports the workflow module for every case
# it loads, which `bench.idle_cases` puts at about half of a cached case's memory (~450 KiB against
# ~230 with every module passed through), but passing everything through also lets `datetime.now()`
# and friends into workflow code unrefused (tests/workflow/test_worker_sandbox.py). Memory is bounded by
# CASEWORK_MAX_CACHED_WORKFLOWS instead. The snippets the SDK runs inside each sandbox are compiled
# once (`bootstrap.workflow_sandbox`: ~13 % of a replay's CPU).
WORKFLOW_RUNNER = CompiledSandboxRunner()


def compile_sandboxed_modules(var_dir: Path) -> list[Path]:
    """Compile the workflow modules the sandbox imports afresh for every case it loads, once, into
    the worker's own `var/pycache` (`sys.pycache_prefix`): without a .pyc beside the source (this
    machine sets PYTHONDONTWRITEBYTECODE; an install may be read-only) the sandbox compiled the
    source again for every case. Returns the files written."""
    sys.pycache_prefix = str(var_dir / "pycache")
    written = []
    for workflow_class in WORKFLOWS:
        module = sys.modules[workflow_class.__module__]
        assert module.__file__ is not None
        cached = importlib.util.cache_from_source(module.__file__)
        py_compile.compile(module.__file__, cfile=cached, doraise=True)
        written.append(Path(cached))
    return written


async def register_case_search_attributes(client: Client) -> list[str]:
    """The search attributes the case workflow sets and intake lists by, registered where missing;
    returns the names it added."""
    return await register_search_attributes(client, ALL_KEYS)


def _variables(fields: Iterable[str]) -> list[str]:
    """The environment variables of these Settings fields, in the order adapters/settings.py
    declares them (a field without a variable, e.g. given in code only, by its own name)."""
    declared = list(Settings.model_fields)
    ordered = sorted(set(fields), key=lambda f: (declared.index(f) if f in declared else len(declared), f))
    named = Settings.model_fields
    return [str(named[f].validation_alias) if f in named else f for f in ordered]


def _webhook_variables(settings: Settings, channels: ChannelRegistry | None = None) -> list[str]:
    """The variables of the webhook channels (adapters/channels) that are set."""
    return _variables((channels or channel_registry()).signed_fields_set(settings))


class StartRefused(SystemExit):
    """Settings the worker will not run with: one line naming the setting; `worker.py` exits 2."""


def _reached_once(settings: Settings, channels: ChannelRegistry) -> None:
    """One destination, one channel: with two set, which one reaches it would be nobody's guess."""
    reaching: dict[str, list[str]] = {}
    for kind in channels:
        for destination, field_name in kind.settings.items():
            if getattr(settings, field_name):
                reaching.setdefault(destination, []).append(field_name)
    for destination, fields in reaching.items():
        if len(fields) > 1:
            raise StartRefused(
                f"{' and '.join(_variables(fields))} are both set: the {destination.replace('_', ' ')} "
                "is reached over one channel; unset one"
            )


def check_delivery_settings(settings: Settings, channels: ChannelRegistry | None = None) -> StaffList:
    """Refuse to start (StartRefused, one line) rather than send what nobody can trust: a webhook
    without a secret (unsigned, or signed with an empty key anyone can use), a secret shorter than
    32 bytes (given in code: the environment's is checked with the other variables), or a staff
    list that cannot be read; or one destination reached over two channels. `channels`: the
    registry (adapters/channels' own by default). Returns the staff list."""
    channels = channels or channel_registry()
    _reached_once(settings, channels)
    webhooks = _webhook_variables(settings, channels)
    if webhooks and not settings.webhook_secret:
        raise StartRefused(
            f"{', '.join(webhooks)} {'is' if len(webhooks) == 1 else 'are'} set but CASEWORK_WEBHOOK_SECRET "
            "is empty: set a secret for the webhook signatures (e.g. `openssl rand -hex 32`) and give "
            "it to the receiver"
        )
    if settings.webhook_secret and len(settings.webhook_secret.encode()) < WEBHOOK_SECRET_BYTES:
        raise StartRefused(
            f"CASEWORK_WEBHOOK_SECRET: must be at least {WEBHOOK_SECRET_BYTES} bytes (e.g. `openssl rand "
            f"-hex 32`), got {len(settings.webhook_secret.encode())} (the value is not shown)"
        )
    try:
        return load_staff(settings.staff_file)
    except StaffFileError as error:
        raise StartRefused(str(error)) from None


def delivery_config(settings: Settings, channels: ChannelRegistry | None = None) -> DeliveryConfig:
    """The deliveries' settings; each channel's targets read from the fields its kind names."""
    channels = channels or channel_registry()
    staff = check_delivery_settings(settings, channels)
    if settings.smtp_host is None:
        raise SystemExit("no SMTP_HOST: set it, or run the worker with the embedded SMTP sink (make run)")
    security = settings.smtp_security if settings.smtp_security in ("none", "starttls", "tls") else "starttls"
    return DeliveryConfig(
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_security=security,  # type: ignore[arg-type]
        smtp_username=settings.smtp_username,
        smtp_password=settings.smtp_password,
        smtp_connections=settings.smtp_connections,
        smtp_helo_name=settings.smtp_helo_name or "",
        mail_from=settings.mail_from,
        reply_to_domain=settings.reply_to_domain,
        reply_key=reply_key(verification_key(settings)),  # the inbound listener derives the same
        support_queue_email=settings.support_queue_email,
        duty_manager_email=settings.duty_manager_email,
        staff=staff.emails(),
        staff_languages=staff.languages(),
        staff_display_names=staff.display_names(),
        channels=channels.targets(settings),
        webhook_secret=settings.webhook_secret,
        public_url=settings.public_url or f"http://{settings.api_host}:{settings.api_port}",
        survey_key=survey_key(verification_key(settings)),
    )


def delivery_activities(settings: Settings, engine: Engine | None = None) -> DeliveryActivities:
    """Deliveries with their ledger in `engine` (or a database opened from `settings`)."""
    ledger = DeliveryLedger(engine if engine is not None else open_database(settings))
    config = delivery_config(settings)
    renderer = Renderer(PROJECT_ROOT / "templates", config.staff_display_names)
    return DeliveryActivities(config, ledger, renderer)


class CaseWorkers:
    """The case worker and, beside it in the same process, the worker of the cases' deliveries on
    a task queue of their own (`workflows.deliveries.deliveries_queue`): each has its own activity
    slots, so a case being opened never waits behind mail. Or either alone, when the deliveries
    run in a process of their own (`worker.py --only`). Run, entered and shut down as one."""

    def __init__(self, workers: Sequence[Worker], owned: DeliveryActivities | None = None) -> None:
        self.workers = list(workers)
        self._owned = owned  # the deliveries' SMTP pool and HTTP client, closed once the workers stop
        self._stack = AsyncExitStack()

    async def _close(self) -> None:
        if self._owned is not None:
            await self._owned.close()

    async def run(self) -> None:
        """Until shut down; if one stops (or fails), the others are shut down too."""
        runs = [asyncio.create_task(worker.run()) for worker in self.workers]
        try:
            await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for worker, run in zip(self.workers, runs, strict=True):
                if not run.done() and worker.is_running:
                    await worker.shutdown()
            try:
                await asyncio.gather(*runs)
            finally:
                await self._close()

    async def shutdown(self) -> None:
        await asyncio.gather(*(worker.shutdown() for worker in self.workers))

    async def __aenter__(self) -> CaseWorkers:
        self._stack.push_async_callback(self._close)  # last, after the workers stopped
        for worker in reversed(self.workers):  # the deliveries first: a case's first mail finds them
            await self._stack.enter_async_context(worker)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._stack.aclose()


class WorkerTuning(TypedDict):
    """The SDK's knobs as the settings give them, for every worker of casework and of the
    benchmarks' floors alike (docs/configuration.md, bench/README.md)."""

    max_concurrent_activities: int
    max_concurrent_workflow_tasks: int
    max_cached_workflows: int
    workflow_task_poller_behavior: PollerBehavior
    activity_task_poller_behavior: PollerBehavior
    sticky_queue_schedule_to_start_timeout: timedelta
    disable_eager_activity_execution: bool


def worker_tuning(settings: Settings) -> WorkerTuning:
    pollers: PollerBehavior = (
        PollerBehaviorAutoscaling()
        if settings.pollers == 0
        else PollerBehaviorSimpleMaximum(settings.pollers)
    )
    return WorkerTuning(
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        max_cached_workflows=settings.max_cached_workflows,
        workflow_task_poller_behavior=pollers,
        activity_task_poller_behavior=pollers,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_timeout_s),
        disable_eager_activity_execution=not settings.eager_activities,
    )


def build_worker(
    client: Client,
    settings: Settings,
    task_queue: str | None = None,
    delivery: DeliveryActivities | None = None,
    graceful_shutdown: timedelta = GRACEFUL_SHUTDOWN,
    engine: Engine | None = None,
    only: Part | None = None,
) -> CaseWorkers:
    """The workers on `client`, their activities on `engine` (the process's database engine; one
    opened from `settings` when none is given): directory, archive, verification failures, ledger.
    `only` builds one of the two: the cases (whose deliveries another process sends) or the
    deliveries (of the cases another process decides)."""
    # Ids go on the structured log record (extra), not into the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    store = DirectoryStore(engine if engine is not None else open_database(settings))
    deliver = delivery or delivery_activities(settings, store.engine)
    queue = task_queue or settings.task_queue
    workers: list[Worker] = []
    if only in (None, "cases"):
        context = CaseContextActivities(
            settings.policy_path, store, PolicyVersions(store.engine, this_process("worker"))
        )
        # closed_cases, in the database every worker shares; records sealed with the codec's keys
        keys = key_ring_from_env()
        archive = ArchiveActivities(store.engine, keys)
        thread = ThreadActivities(MessageStore(store.engine, keys))  # words sealed with the key ring
        verification = VerificationActivities(
            store,
            deliver,
            verification_key(settings),
            VerificationFailures(
                store.engine,
                settings.verification_failures_per_hour,
                tenant_limit=settings.verification_failures_per_tenant,
            ),
        )
        workers.append(
            Worker(
                client,
                task_queue=queue,
                workflows=WORKFLOWS,
                workflow_runner=WORKFLOW_RUNNER,
                activities=[
                    context.load_case_context,
                    # Cases started before deliveries had their own queue still deliver on this one.
                    deliver.deliver_notification,
                    archive.archive_case,
                    verification.send_verification_code,
                    thread.keep_message,
                ],
                # On SIGINT/SIGTERM running activities get this long to finish before they are cancelled.
                graceful_shutdown_timeout=graceful_shutdown,
                plugins=tracing_plugins(settings.tracing),
                **worker_tuning(settings),
            )
        )
    if only in (None, "deliveries"):
        workers.append(
            Worker(
                client,
                task_queue=deliveries_queue(queue),
                activities=[deliver.deliver_notification],
                graceful_shutdown_timeout=graceful_shutdown,
                plugins=tracing_plugins(settings.tracing),
                max_concurrent_activities=settings.max_concurrent_activities,
                activity_task_poller_behavior=worker_tuning(settings)["activity_task_poller_behavior"],
            )
        )
    return CaseWorkers(workers, owned=None if delivery is not None else deliver)

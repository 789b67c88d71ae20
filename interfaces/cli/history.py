"""A case's history for support engineers: export it, replay it against the code, read its story.

Export writes what `temporal workflow show --output json` writes (one object per run; a case that
continued as new is a JSON array of its runs, oldest first). Replay uses the same data converter
(and codec, when encryption is on) as the workers, and reports the first event where the code
takes a different path: the check to run before deploying a new worker version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from adapters.codec import ENCODING, KEY_ID
from application.cases import CaseNotFound
from support.case.view import CaseView
from support.sla_clocks.ledger import SlaBasis
from workflows.support_case import SupportCaseWorkflow

_EVENT_ID = re.compile(r"HistoryEvent\(id: (\d+)|[Ee]vent(?:[ _]id)?[ :=]+(\d+)")
_CORE_MESSAGE = re.compile(r'message: "([^"]+)"')


class EncryptionKeyNeeded(RuntimeError):
    """Payloads sealed with a key this process does not have: one sentence naming the key's id."""

    def __init__(self, key: str, have_key: bool) -> None:
        self.key_id = key
        super().__init__(
            f"the case's data is encrypted (key id {key}) "
            + (
                "with a key that is not the configured CASEWORK_ENCRYPTION_KEY: set it to that key, "
                "or add that key to CASEWORK_ENCRYPTION_PREVIOUS_KEYS"
                if have_key
                else "and CASEWORK_ENCRYPTION_KEY is not set: set it to the workers' key"
            )
        )


def _sealed_by(payload: Payload) -> str | None:
    if payload.metadata.get("encoding") != ENCODING:
        return None
    return payload.metadata.get(KEY_ID, b"").decode(errors="replace") or "(unnamed)"


class KeyCheckingCodec(PayloadCodec):
    """The CLI's codec: a payload it cannot open is `EncryptionKeyNeeded`, not a KeyError from
    deep inside the SDK ("Unknown payload encoding binary/encrypted") or the codec's ValueError."""

    def __init__(self, inner: PayloadCodec | None) -> None:
        self.inner = inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads) if self.inner is None else await self.inner.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self.inner is None:
            for payload in payloads:
                key = _sealed_by(payload)
                if key is not None:
                    raise EncryptionKeyNeeded(key, have_key=False)
            return list(payloads)
        try:
            return await self.inner.decode(payloads)
        except ValueError:  # the codec's "sealed with key ..., which is not configured"
            for payload in payloads:
                key = _sealed_by(payload)
                if key is not None:
                    try:
                        await self.inner.decode([payload])
                    except ValueError:
                        raise EncryptionKeyNeeded(key, have_key=True) from None
            raise


def _payloads_in(message: Message) -> Iterator[Payload]:
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items: list[object] = [value]
        elif field.message_type.GetOptions().map_entry:
            items = list(value.values())
        else:
            items = list(value)
        for item in items:
            if isinstance(item, Message):
                yield from _payloads_in(item)


def payloads_in(history: WorkflowHistory) -> Iterator[Payload]:
    """Every payload anywhere in a history (inputs, results, update arguments, memos, ...)."""
    for event in history.events:
        yield from _payloads_in(event)


async def check_readable(runs: Sequence[WorkflowHistory], codec: PayloadCodec | None) -> None:
    """Raise `EncryptionKeyNeeded` when a history holds payloads sealed with a key `codec` lacks:
    replaying it would otherwise fail deep in the SDK and look like nondeterminism."""
    samples: dict[str, Payload] = {}
    for run in runs:
        for payload in payloads_in(run):
            key = _sealed_by(payload)
            if key is not None:
                samples.setdefault(key, payload)
    checker = codec if isinstance(codec, KeyCheckingCodec) else KeyCheckingCodec(codec)
    for payload in samples.values():
        await checker.decode([payload])


async def fetch_runs(client: Client, case_id: str) -> list[WorkflowHistory]:
    """Every run of a case, oldest first, by walking back from the newest through continue-as-new."""
    runs: list[WorkflowHistory] = []
    run_id: str | None = None
    try:
        while True:
            history = await client.get_workflow_handle(case_id, run_id=run_id).fetch_history()
            runs.append(history)
            started = history.events[0].workflow_execution_started_event_attributes
            run_id = started.continued_execution_run_id or None
            if run_id is None:
                break
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(f"no case {case_id!r}") from None
        raise
    return list(reversed(runs))


def export_json(runs: Sequence[WorkflowHistory]) -> str:
    if len(runs) == 1:
        return runs[0].to_json()
    return "[" + ",".join(run.to_json() for run in runs) + "]"


def load_json(text: str, case_id: str = "case-from-file") -> list[WorkflowHistory]:
    """Histories from an export (one object, or an array of runs)."""
    data = json.loads(text)
    items = data if isinstance(data, list) else [data]
    return [WorkflowHistory.from_json(case_id, item) for item in items]


class Divergence(BaseModel):
    event_id: int | None
    event_type: str | None
    message: str


class RunReplay(BaseModel):
    run_id: str
    events: int
    ok: bool
    divergence: Divergence | None = None


class ReplayReport(BaseModel):
    case_id: str
    ok: bool
    runs: list[RunReplay]


def _event_type(history: WorkflowHistory, event_id: int | None) -> str | None:
    for event in history.events:
        if event.event_id == event_id:
            return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return None


async def replay(
    case_id: str,
    runs: Sequence[WorkflowHistory],
    converter: DataConverter,
    debug: bool = False,
    workflows: Sequence[type] = (SupportCaseWorkflow,),
) -> ReplayReport:
    await check_readable(runs, converter.payload_codec)
    replayer = Replayer(workflows=list(workflows), data_converter=converter, debug_mode=debug)
    results = []
    for run in runs:
        result = await replayer.replay_workflow(run, raise_on_replay_failure=False)
        divergence = None
        if result.replay_failure is not None:
            message = str(result.replay_failure)
            core = _CORE_MESSAGE.search(message)
            message = core[1] if core else message  # "Nondeterminism error: Timer machine does not ..."
            match = _EVENT_ID.search(message)
            event_id = int(match[1] or match[2]) if match else None
            divergence = Divergence(event_id=event_id, event_type=_event_type(run, event_id), message=message)
        results.append(
            RunReplay(run_id=run.run_id, events=len(run.events), ok=divergence is None, divergence=divergence)
        )
    return ReplayReport(case_id=case_id, ok=all(r.ok for r in results), runs=results)


@dataclass(frozen=True)
class TimelineLine:
    at: str
    actor: str
    kind: str
    severity: str
    message: str


def timeline_lines(view: CaseView) -> list[TimelineLine]:
    """Each entry in the case calendar's zone, with the severity the case had at that moment."""
    zone = ZoneInfo(view.time_zone or "UTC")
    lines = []
    for entry in view.timeline:
        severity = next(
            (h.severity.value for h in reversed(view.severity_history) if h.at <= entry.at),
            view.requested_severity.value,
        )
        lines.append(
            TimelineLine(
                at=entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z"),
                actor=entry.actor,
                kind=entry.kind,
                severity=severity,
                message=entry.message,
            )
        )
    return lines


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if at else "-"


def render_timeline(view: CaseView) -> str:
    """The case's story for a person: header, clocks, then one line per timeline entry."""
    zone = ZoneInfo(view.time_zone or "UTC")
    out = [
        f"{view.case_id}  {view.title!r}",
        f"  tenant {view.tenant_name or view.tenant_id}, {view.category.value}, status {view.status.value}, "
        f"severity {view.severity.value if view.severity else '-'} (asked {view.requested_severity.value}), "
        f"calendar {view.calendar or '-'} ({view.time_zone or 'UTC'})",
    ]
    for clock in (view.first_response, view.customer_update):
        if clock is not None:
            out.append(
                f"  {clock.name.value}: {clock.state.value}, target {clock.target}, "
                f"due {_when(clock.due, zone)}, answered {_when(clock.answered_at, zone)}, "
                f"warnings {', '.join(clock.warnings_sent) or '-'}"
            )
    if view.failed_notifications:
        out.append(f"  failed notifications: {len(view.failed_notifications)}")
    out.append("")
    for line in timeline_lines(view):
        out.append(f"{line.at}  [{line.severity}]  {line.actor:<12} {line.kind:<26} {line.message}")
    return "\n".join(out)


async def sla_basis_from_history(
    runs: Sequence[WorkflowHistory], converter: DataConverter
) -> SlaBasis | None:
    """The case's record and policy snapshot as replaying its history rebuilds them (the last
    run's, at its last event): the SLA ledger from the history alone, with no case running.
    None when the history is empty of a case."""
    await check_readable(runs, converter.payload_codec)
    seen: list[SupportCaseWorkflow] = []

    class Inbound(WorkflowInboundInterceptor):
        async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
            found = workflow.instance()
            if isinstance(found, SupportCaseWorkflow):
                seen.append(found)
            return await super().execute_workflow(input)

    class Capture(Interceptor):
        def workflow_interceptor_class(
            self, input: WorkflowInterceptorClassInput
        ) -> type[WorkflowInboundInterceptor] | None:
            return Inbound

    # Unsandboxed: the instance must be this process's object to be read after the replay.
    replayer = Replayer(
        workflows=[SupportCaseWorkflow],
        data_converter=converter,
        interceptors=[Capture()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    for run in runs:
        await replayer.replay_workflow(run)
    return seen[-1].sla_basis() if seen else None

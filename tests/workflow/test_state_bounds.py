"""A case's state stays bounded under any sequence of allowed requests (issue 11).

The state (`CaseView`) is the query answer and the continue-as-new input: callers' texts are kept
as excerpts, the timeline keeps its first and most recent entries, closed requests and other
lists keep their recent items, and open engineer requests are capped. The load test drives one
case with STATE_BOUND_UPDATES (10,000) maximum-size updates and STATE_BOUND_COOPERATIONS (1,000)
maximum-size cooperation signals on the time-skipping server, with delivery and archive doubles
(this is about the workflow's logic; deliveries are tested in test_delivery.py). Updates go
STATE_BOUND_BATCH (10) at a time, as many as a real server lets be in flight on one workflow; on
2 cores the whole test takes about 3.5 minutes (the load ~190 s: every update's answer is the
case view, ~60 KiB, encoded, stored and decoded).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.case_context import CaseContextActivities
from adapters.database import open_database
from adapters.directory_store import DirectoryStore
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT, Settings
from application.cases import Cases
from bootstrap.worker_runtime import WORKFLOW_RUNNER
from scaffold.policies import fast_policy_model, policy_toml
from support.case import actions
from support.case.action_receipt import ActionReceipt
from support.case.actions import ATTACHMENTS_PER_REPLY, AttachmentRef
from support.case.events import DeliveryFailed
from support.case.thread_message import ThreadMessage
from support.case.view import (
    ASKED_KEPT_MAX,
    ATTACHMENTS_KEPT,
    CLOSED_REQUESTS_KEPT,
    ENTRY_MAX,
    FILENAME_KEPT_MAX,
    NOTE_KEPT_MAX,
    NOTES_KEPT,
    REPLY_IDS_KEPT,
    TIMELINE_FIRST,
    TIMELINE_RECENT,
    UPDATE_CYCLES_KEPT,
    CaseView,
)
from support.messaging.notifications import DeliveryReceipt, Notification
from support.policies.policy import policy_from_dict
from support.policies.targets import Target
from support.policies.vocabulary import CaseStatus, Severity
from support.rules.cooperation import MAX_OPEN_REQUESTS, RequestKind, RequestState, new_request
from support.wording.excerpt import ELLIPSIS, EXCERPT_MAX, excerpt, utf8_size
from support.wording.text_shapes import LINE_MAX, MESSAGE_MAX, NOTE_MAX, REASON_MAX
from tests.case_driver import Driver
from tests.requests import case_request
from workflows.deliveries import deliveries_queue
from workflows.support_case import CarriedCase, CaseStart, SupportCaseWorkflow

UPDATES = int(os.environ.get("STATE_BOUND_UPDATES", "10000"))
COOPERATIONS = int(os.environ.get("STATE_BOUND_COOPERATIONS", "1000"))
BATCH = int(os.environ.get("STATE_BOUND_BATCH", "10"))  # updates in flight at once
CARRIED_MAX = 256 * 1024
TEAM_LISTS_CARRIED_MAX = CARRIED_MAX // 2  # docs/security.md "Bounded state": about 118 KiB at their worst
ALL_LISTS_CARRIED_MAX = 160 * 1024  # every list at its worst: about 150 KiB, in any script
TIMER_SECONDS = 10  # the flood's customer-update target and idle follow-up
ENGINEER = "li.wei"
T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


# -- the excerpt helper and the trimming, as pure functions ---------------------------------------


def test_excerpt_keeps_short_texts_and_cuts_long_ones_with_an_ellipsis() -> None:
    assert excerpt("") == ""
    assert excerpt("short") == "short"
    exact = "x" * EXCERPT_MAX
    assert excerpt(exact) == exact
    cut = excerpt("y" * (EXCERPT_MAX + 1))
    assert len(cut.encode()) == EXCERPT_MAX and cut.endswith(ELLIPSIS)
    assert cut == "y" * (EXCERPT_MAX - len(ELLIPSIS.encode())) + ELLIPSIS
    assert excerpt("word " * 100, 13) == "word word" + ELLIPSIS  # no blank before the ellipsis
    assert excerpt("abcdef", 3) == ELLIPSIS
    with pytest.raises(ValueError):
        excerpt("abc", 2)


# Texts of one character repeated: 1, 3 and 4 bytes in UTF-8 (zh-CN is a primary language here).
SCRIPTS = pytest.mark.parametrize("char", ["x", "中", "😀"], ids=["ascii", "cjk", "emoji"])


@SCRIPTS
def test_excerpt_budget_is_bytes_of_utf8_cut_on_a_character_boundary(char: str) -> None:
    width = len(char.encode())
    fits = char * (EXCERPT_MAX // width)
    assert excerpt(fits) == fits
    for extra in range(1, 5):  # every offset of the cut within a character
        text = "a" * extra + char * EXCERPT_MAX
        cut = excerpt(text)
        assert len(cut.encode()) <= EXCERPT_MAX and cut.endswith(ELLIPSIS)
        assert text.startswith(cut.removesuffix(ELLIPSIS))  # whole characters, none of them broken
        assert len(cut.encode()) > EXCERPT_MAX - width  # and no more is dropped than one character
    assert excerpt(char * 1_000, 600).encode().decode() == excerpt(char * 1_000, 600)
    assert utf8_size(char * 10) == 10 * width
    assert len(excerpt(char * 10_000, NOTE_KEPT_MAX).encode()) <= NOTE_KEPT_MAX


def test_excerpt_measures_rather_than_fails_on_a_lone_surrogate() -> None:
    cut = excerpt("\ud800" * 100)
    assert cut.endswith(ELLIPSIS) and utf8_size(cut) <= EXCERPT_MAX


def test_timeline_keeps_the_opening_and_the_most_recent_entries_and_counts_the_rest() -> None:
    view = CaseView.for_request(case_request("bounds-1"), T0)
    total = TIMELINE_FIRST + TIMELINE_RECENT + 780
    for i in range(total):
        view.record(T0 + timedelta(seconds=i), f"kind-{i}", f"entry {i} " + "z" * 5_000)
    assert len(view.timeline) == TIMELINE_FIRST + TIMELINE_RECENT
    assert view.timeline_omitted == 780
    kept = [int(e.kind.removeprefix("kind-")) for e in view.timeline]
    assert kept == list(range(TIMELINE_FIRST)) + list(range(total - TIMELINE_RECENT, total))
    assert all(utf8_size(e.message) <= ENTRY_MAX and e.message.endswith(ELLIPSIS) for e in view.timeline)
    view.record(T0, "short", "a short line")
    assert view.timeline[-1].message == "a short line" and view.timeline_omitted == 781


def test_closed_engineer_requests_beyond_the_recent_few_leave_the_state_obligations_stay() -> None:
    policy = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
    calendar = policy.calendars["always"]
    view = CaseView.for_request(case_request("bounds-2"), T0)

    def ask(request_id: str, kind: RequestKind) -> None:
        view.customer_requests.append(
            new_request(
                policy,
                Severity.A,
                calendar,
                T0,
                request_id=request_id,
                kind=kind,
                what="w" * REASON_MAX,
                requested_by=ENGINEER,
                pauses_clock=False,
            )
        )

    ask("impact_analysis", RequestKind.OBLIGATION)
    view.customer_requests[0].state = RequestState.ANSWERED
    for n in range(1, 31):
        ask(f"request-{n}", RequestKind.ENGINEER)
        if n <= 25:
            view.customer_requests[-1].state = RequestState.ANSWERED
    view.record(T0, "test", "trim")
    ids = [r.request_id for r in view.customer_requests]
    answered = [f"request-{n}" for n in range(26 - CLOSED_REQUESTS_KEPT, 26)]
    assert ids == ["impact_analysis", *answered, *(f"request-{n}" for n in range(26, 31))]
    assert view.customer_requests_omitted == 25 - CLOSED_REQUESTS_KEPT
    closed = [r for r in view.customer_requests if r.kind is RequestKind.ENGINEER and not r.outstanding]
    assert all(utf8_size(r.what) == EXCERPT_MAX for r in closed)
    assert all(len(r.what) == REASON_MAX for r in view.customer_requests if r.outstanding)


def test_counters_of_state_carried_from_before_the_bounds_are_derived_from_its_lists() -> None:
    view = CaseView.for_request(case_request("bounds-3"), T0)
    view.record(T0, "cooperation_reminder", "one")
    view.record(T0, "cooperation_reminder", "two")
    older = view.model_dump(mode="json")
    older["customer_requests"] = [
        {
            "request_id": f"request-{n}",
            "kind": "engineer",
            "what": "logs",
            "requested_by": ENGINEER,
            "requested_at": T0.isoformat(),
            "pauses_clock": True,
            "due": T0.isoformat(),
        }
        for n in (1, 2, 3)
    ]
    older["severity_history"] = [
        {"at": T0.isoformat(), "severity": "A", "previous": None, "actor": "system", "reason": "x"},
        {"at": T0.isoformat(), "severity": "B", "previous": "A", "actor": ENGINEER, "reason": "y"},
    ]
    for field in ("engineer_requests", "severity_changes", "cooperation_reminders_sent"):
        del older[field]
    carried = CaseView.model_validate(older)
    assert (carried.engineer_requests, carried.severity_changes, carried.cooperation_reminders_sent) == (
        3,
        1,
        2,
    )
    fresh = CaseView.model_validate(view.model_dump(mode="json"))
    assert fresh.cooperation_reminders_sent == 0  # given (as counted by new code), not re-derived


@SCRIPTS
def test_notes_replies_attachments_and_handovers_keep_the_state_bounded(char: str) -> None:
    """Issue 15's lists at their worst: maximum notes, replies with the most attachments of the
    longest names, handovers with the longest reasons, then the most requests waiting for the
    customer, in 1-, 3- and 4-byte characters. Each list
    keeps its recent items with a count of the rest, every kept text stays within its budget in
    bytes, and the carried state (UTF-8 JSON, as the payload converter writes it) stays far below
    the bound in any script."""
    driver = Driver(case_request("bounds-team", severity="B"), T0)
    driver.act(actions.FirstResponse(engineer=ENGINEER, message=char * MESSAGE_MAX))
    for n in range(150):
        driver.act(actions.InternalNote(engineer=ENGINEER, note=f"{n} " + char * (NOTE_MAX - 10)))
        driver.act(
            actions.CustomerReply(
                message_id=f"{n:064x}",
                sender="a***@contoso.example",
                body=char * MESSAGE_MAX,
                attachments=[
                    AttachmentRef(
                        attachment_id=f"{n * 100 + a:064x}",
                        filename=char * LINE_MAX,
                        content_type="application/" + "x" * 62,
                        size=10**9,
                    )
                    for a in range(ATTACHMENTS_PER_REPLY)
                ],
            )
        )
        assignee = "zhang.min" if n % 2 == 0 else ENGINEER
        driver.act(actions.Assignment(engineer=ENGINEER, assignee=assignee, reason=char * REASON_MAX))
    for _ in range(MAX_OPEN_REQUESTS):  # and the most requests waiting for the customer, kept whole
        driver.act(actions.CustomerActionRequest(engineer=ENGINEER, what=char * REASON_MAX))
    view = driver.view
    assert len(view.notes) == NOTES_KEPT and view.notes_omitted == 150 - NOTES_KEPT
    assert all(utf8_size(note.note) <= NOTE_KEPT_MAX for note in view.notes)
    assert len(view.attachments) == ATTACHMENTS_KEPT
    assert view.attachments_omitted == 150 * ATTACHMENTS_PER_REPLY - ATTACHMENTS_KEPT
    assert all(utf8_size(a.filename) <= FILENAME_KEPT_MAX for a in view.attachments)
    assert len(view.reply_ids) == REPLY_IDS_KEPT and view.replies_received == 150
    assert len(view.timeline) <= TIMELINE_FIRST + TIMELINE_RECENT
    assert all(utf8_size(entry.message) <= ENTRY_MAX for entry in view.timeline)
    waiting = [r for r in view.customer_requests if r.kind is RequestKind.ENGINEER and r.outstanding]
    assert len(waiting) == MAX_OPEN_REQUESTS and all(utf8_size(r.what) <= ASKED_KEPT_MAX for r in waiting)
    carried = driver.case.carried().model_dump_json().encode()
    assert len(carried) < TEAM_LISTS_CARRIED_MAX, f"{len(carried) / 1024:.1f} KiB with {char!r}"


@SCRIPTS
def test_every_list_at_its_worst_in_any_script_stays_well_under_the_bound(char: str) -> None:
    """Every list a caller can grow, full of the longest texts: answered requests, clock pauses,
    severity changes, update cycles and failed deliveries, then issue 15's lists and the most
    requests waiting. Counted in characters this was 151 KiB in ASCII, 325 KiB in Chinese and
    411 KiB in emoji; in bytes it is about 150 KiB in each."""
    driver = Driver(case_request("bounds-all", severity="B"), T0)
    driver.act(actions.FirstResponse(engineer=ENGINEER, message=char * MESSAGE_MAX))
    for n in range(1, 31):
        driver.act(actions.CustomerActionRequest(engineer=ENGINEER, what=char * REASON_MAX))
        driver.act(actions.Cooperation(request_id=f"request-{n}", details=char * MESSAGE_MAX))
        severity = Severity.A if n % 2 else Severity.B
        driver.act(
            actions.SeverityChangeRequest(engineer=ENGINEER, severity=severity, reason=char * REASON_MAX)
        )
        driver.act(actions.CustomerUpdate(engineer=ENGINEER, message=char * MESSAGE_MAX))
        driver.deliver(DeliveryFailed(notification=driver.told[-1], reason=char * MESSAGE_MAX))
    for n in range(150):
        driver.act(actions.InternalNote(engineer=ENGINEER, note=char * NOTE_MAX))
        attachments = [
            AttachmentRef(
                attachment_id=f"{n * 100 + a:064x}",
                filename=char * LINE_MAX,
                content_type="application/" + "x" * 62,
                size=10**9,
            )
            for a in range(ATTACHMENTS_PER_REPLY)
        ]
        driver.act(
            actions.CustomerReply(
                message_id=f"{n:064x}",
                sender="a***@contoso.example",
                body=char * MESSAGE_MAX,
                attachments=attachments,
            )
        )
        assignee = "zhang.min" if n % 2 == 0 else ENGINEER
        driver.act(actions.Assignment(engineer=ENGINEER, assignee=assignee, reason=char * REASON_MAX))
    for _ in range(MAX_OPEN_REQUESTS):
        driver.act(actions.CustomerActionRequest(engineer=ENGINEER, what=char * REASON_MAX))
    view = driver.view
    assert view.customer_update is not None and len(view.customer_update.history) == UPDATE_CYCLES_KEPT
    assert (len(view.severity_history), len(view.pauses), len(view.failed_notifications)) == (21, 20, 20)
    assert view.customer_requests_omitted == 30 - CLOSED_REQUESTS_KEPT
    carried = driver.case.carried().model_dump_json().encode()
    assert len(carried) < ALL_LISTS_CARRIED_MAX, f"{len(carried) / 1024:.1f} KiB with {char!r}"


def test_texts_carried_from_a_run_before_the_byte_budgets_are_cut_to_them() -> None:
    """A run that counted characters carried up to 1,000 characters of a note (3,000 bytes in
    Chinese) and 200-character attachment names; the next change of the case cuts them."""
    view = CaseView.for_request(case_request("bounds-older"), T0)
    older = view.model_dump(mode="json")
    older["notes"] = [{"at": T0.isoformat(), "engineer": ENGINEER, "note": "中" * 1_000}]
    older["attachments"] = [
        {"attachment_id": "0" * 64, "filename": "中" * LINE_MAX, "content_type": "text/plain", "size": 1}
    ]
    older["timeline"] = [{"at": T0.isoformat(), "actor": "system", "kind": "opened", "message": "中" * 600}]
    carried = CaseView.model_validate(older)
    carried.record(T0, "test", "trim")
    assert utf8_size(carried.notes[0].note) <= NOTE_KEPT_MAX and carried.notes[0].note.startswith("中")
    assert utf8_size(carried.attachments[0].filename) <= FILENAME_KEPT_MAX
    assert utf8_size(carried.timeline[0].message) <= ENTRY_MAX


# -- one case under a flood of maximum-size requests ---------------------------------------------


class Doubles:
    """Delivery and archive doubles: they record what the case sent and return at once."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str, int]] = []
        self.ids: list[str] = []
        self.kept: list[int] = []  # seq of each thread message the case had kept

    @activity.defn(name="deliver_notification")
    async def deliver_notification(self, notification: Notification) -> DeliveryReceipt:
        size = len(notification.facts.get("message", "")) + len(notification.facts.get("details", ""))
        self.delivered.append((notification.event, notification.audience.value, size))
        self.ids.append(notification.notification_id)
        return DeliveryReceipt(notification_id=notification.notification_id, channel="test", duplicate=False)

    @activity.defn(name="archive_case")
    async def archive_case(self, case: CaseView) -> str:
        return case.case_id

    @activity.defn(name="keep_message")
    async def keep_message(self, message: ThreadMessage) -> bool:
        self.kept.append(message.seq)
        return True


def flood_policy(directory: Path) -> Path:
    """The fast policy (24x7) with a customer update due every 10 s and a follow-up after 10 s of
    silence (timers that fire in real time right after the flood), continuing as new after 2,000
    events (the server may suggest it sooner: update results make a large history)."""
    fast = fast_policy_model(first_response="1h")
    seconds = Target.model_validate(f"{TIMER_SECONDS}s")
    severities = {
        severity: rule.model_copy(update={"customer_update": seconds, "idle_follow_up": seconds})
        for severity, rule in fast.severities.items()
    }
    history = fast.history.model_copy(update={"continue_as_new_after_events": 2000})
    flood = fast.model_copy(update={"severities": severities, "history": history})
    path = directory / "flood-policy.toml"
    path.write_text(policy_toml(policy_from_dict(flood.model_dump(mode="json"), "flood policy")))
    return path


async def encoded_size(client: Client, value: object) -> int:
    return sum(p.ByteSize() for p in await client.data_converter.encode([value]))


async def wait_for(
    handle: WorkflowHandle[SupportCaseWorkflow, CaseView],
    done: Callable[[CaseView], bool],
    seconds: float = 10,
) -> CaseView:
    """The view once `done(view)` holds (signals are handled a moment after they are sent)."""
    deadline = time.monotonic() + seconds
    while True:
        view = await handle.query(SupportCaseWorkflow.view)
        if done(view):
            return view
        assert time.monotonic() < deadline, (
            f"the case did not get there: {[e.kind for e in view.timeline[-8:]]}"
        )
        await asyncio.sleep(0.1)


async def test_ten_thousand_maximum_updates_leave_one_case_healthy_and_its_state_bounded(
    time_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    began = time.monotonic()
    client = time_env.client
    policy_path = flood_policy(tmp_path)
    store = DirectoryStore(open_database(settings))
    doubles = Doubles()
    task_queue = f"bounds-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[SupportCaseWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[
            CaseContextActivities(policy_path, store).load_case_context,
            doubles.deliver_notification,
            doubles.archive_case,
            doubles.keep_message,
        ],
    )
    message = "m" * MESSAGE_MAX
    details = "d" * MESSAGE_MAX
    what = "w" * REASON_MAX
    request = case_request(f"flood-{uuid.uuid4().hex[:8]}", severity="A")
    deliveries = Worker(
        client, task_queue=deliveries_queue(task_queue), activities=[doubles.deliver_notification]
    )
    async with deliveries, worker:
        opened = await Cases(client, task_queue).open(request)
        case_id = opened.case.case_id
        handle: WorkflowHandle[SupportCaseWorkflow, CaseView] = client.get_workflow_handle_for(
            SupportCaseWorkflow.run, case_id
        )
        await handle.execute_update("respond", actions.FirstResponse(engineer=ENGINEER, message=message))

        moving_refusals = raced = 0

        async def act(update: str, action: BaseModel) -> ActionReceipt:
            """An engineer's action, sent again while the case is moving to a new run (the
            refusal that keeps a stream of actions from postponing continue-as-new for ever), or
            when it reached the run that had just continued as new: the real server moves such an
            update to the new run, the time-skipping server answers NOT_FOUND (nothing was done)."""
            nonlocal moving_refusals, raced
            while True:
                try:
                    result: ActionReceipt = await handle.execute_update(
                        update, action, result_type=ActionReceipt
                    )
                    return result
                except WorkflowUpdateFailedError as error:
                    if "moving to a new run" not in str(error.cause):
                        raise
                    moving_refusals += 1
                except RPCError as error:
                    if error.status is not RPCStatusCode.NOT_FOUND:
                        raise
                    raced += 1
                await asyncio.sleep(0.05)

        async def ask() -> ActionReceipt:
            return await act(
                "request_customer_action",
                actions.CustomerActionRequest(engineer=ENGINEER, what=what),
            )

        async def signal(request_id: str) -> None:
            nonlocal raced
            while True:
                try:
                    await handle.signal(
                        SupportCaseWorkflow.cooperate,
                        actions.Cooperation(request_id=request_id, details=details),
                    )
                    return
                except RPCError as error:  # the run had just continued as new (as above)
                    if error.status is not RPCStatusCode.NOT_FOUND:
                        raise
                    raced += 1
                    await asyncio.sleep(0.05)

        async def cooperate(*request_ids: str) -> None:
            await asyncio.gather(*(signal(i) for i in request_ids))

        # The cap on open requests: the next one is refused, with the case's reason.
        for _ in range(MAX_OPEN_REQUESTS):
            await ask()
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await ask()
        assert f"{MAX_OPEN_REQUESTS} requests are already waiting" in str(refused.value.cause)
        await cooperate(*(f"request-{n + 1}" for n in range(MAX_OPEN_REQUESTS)))
        asked = answered = MAX_OPEN_REQUESTS
        unmatched = 0

        # Rounds: a share of the updates (BATCH at a time: a real server lets 10 updates of a
        # workflow be in flight at once), then requests asked and 10 maximum-size cooperation
        # signals, half answering those requests and half matching nothing.
        started = time.monotonic()
        rounds = max((COOPERATIONS - answered) // 10, 1)
        for r in range(rounds):
            share = UPDATES // rounds + (1 if r < UPDATES % rounds else 0)
            for first in range(0, share, BATCH):
                await asyncio.gather(
                    *(
                        act(
                            "update_customer",
                            actions.CustomerUpdate(engineer=ENGINEER, message=message),
                        )
                        for _ in range(min(BATCH, share - first))
                    )
                )
            signals = 10 if r < rounds - 1 else COOPERATIONS - answered - unmatched
            real = min(signals // 2, MAX_OPEN_REQUESTS)
            for _ in range(real):
                await ask()
            await cooperate(
                *(f"request-{asked + n + 1}" for n in range(real)),
                *(f"request-x{unmatched + n}" for n in range(signals - real)),
            )
            asked, answered, unmatched = asked + real, answered + real, unmatched + signals - real
            if os.environ.get("STATE_BOUND_DEBUG"):
                print(f"round {r}: {(r + 1) * share} updates, {time.monotonic() - started:.1f} s", flush=True)
        load_seconds = time.monotonic() - started
        assert answered + unmatched == COOPERATIONS
        view = await wait_for(
            handle,
            lambda v: v.engineer_requests == asked and not any(r.outstanding for r in v.customer_requests),
        )

        # The state is bounded, and says what it left out.
        assert view.status is CaseStatus.IN_PROGRESS
        assert len(view.timeline) == TIMELINE_FIRST + TIMELINE_RECENT
        assert len(view.timeline) + view.timeline_omitted > UPDATES + COOPERATIONS
        assert all(utf8_size(e.message) <= ENTRY_MAX for e in view.timeline)
        assert any(e.kind == "opened" for e in view.timeline[:TIMELINE_FIRST])
        engineer_requests = [r for r in view.customer_requests if r.kind is RequestKind.ENGINEER]
        assert len(engineer_requests) == CLOSED_REQUESTS_KEPT
        assert engineer_requests[-1].request_id == f"request-{asked}"
        assert all(utf8_size(r.answer or "") == EXCERPT_MAX for r in engineer_requests)
        assert view.customer_requests_omitted == asked - CLOSED_REQUESTS_KEPT
        assert view.customer_update is not None and len(view.customer_update.history) == UPDATE_CYCLES_KEPT
        assert view.customer_update.cycle == UPDATES
        assert len(view.pauses) <= 20

        # The continue-as-new input: what the latest run really started with, and what the case
        # would carry now; the case did continue as new.
        history = await client.get_workflow_handle(case_id).fetch_history()
        start_event = history.events[0].workflow_execution_started_event_attributes
        assert start_event.continued_execution_run_id, "the case never continued as new"
        last_input = sum(p.ByteSize() for p in start_event.input.payloads)
        tenant = store.tenant(request.tenant_id)
        assert tenant is not None
        policy = load_policy_snapshot(policy_path, view.created_at.year)
        carried = CaseStart(request=request, carried=CarriedCase(case=view, policy=policy, tenant=tenant))
        now_input = await encoded_size(client, carried)
        print(
            f"\n{UPDATES} updates and {asked + unmatched} asks/cooperations in {load_seconds:.1f} s; "
            f"continue-as-new input: latest run started with {last_input} bytes, the state now encodes "
            f"to {now_input} bytes (view {await encoded_size(client, view)}, policy "
            f"{await encoded_size(client, policy)}); {len(doubles.delivered)} deliveries; "
            f"{moving_refusals} actions sent again while the case moved to a new run, {raced} after it"
        )
        assert last_input < CARRIED_MAX and now_input < CARRIED_MAX

        # Every update told the customer, in full, exactly once (deliveries run beside the case).
        def customer_updates() -> list[str]:
            return [
                i
                for i, (event, audience, size) in zip(doubles.ids, doubles.delivered, strict=True)
                if event == "customer_update" and audience == "customer" and size == MESSAGE_MAX
            ]

        for _ in range(100):
            if len(customer_updates()) >= UPDATES:
                break
            await asyncio.sleep(0.1)
        cycles = sorted(int(i.split("/")[2]) for i in customer_updates())
        assert cycles == list(range(UPDATES))  # numbered by the cycle each update answered

        # Its timers still fire: without an update the update clock warns, then breaches, and the
        # idle engineer is followed up. In real time: the time-skipping server stops skipping once
        # updates have raced a continue-as-new (it does not move them to the new run as the real
        # server does), so the flood's policy has timers of seconds.
        fired = {"customer_update_warning_50", "customer_update_breached", "follow_up"}
        view = await wait_for(
            handle, lambda v: fired <= {e.kind for e in v.timeline}, seconds=6 * TIMER_SECONDS
        )
        assert len(view.timeline) == TIMELINE_FIRST + TIMELINE_RECENT
        print(f"the whole test took {time.monotonic() - began:.1f} s", flush=True)
        await handle.terminate("test done")

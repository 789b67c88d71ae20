"""Record the histories in tests/histories/ (CI replays every one against the current code).

Run it after an intentionally incompatible workflow change, once the change is guarded or the
old cases are gone:  .venv/bin/python -m scripts.record_histories
To add one scenario and keep the older recordings:
  .venv/bin/python -m scripts.record_histories tests/histories intake_waits_for_decision
Each scenario is a real case on the time-skipping server with the real worker and activities.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import read_mailbox, text_of
from adapters.settings import PROJECT_ROOT, Settings, venv_binary
from application.cases import Cases, Unavailable, staff_from_file
from application.verification_gate import case_caller
from bootstrap.gateway import verification_gate
from bootstrap.worker_runtime import build_worker, register_case_search_attributes
from interfaces.cli.history import export_json, fetch_runs
from scaffold.local_stack import local_services, start_local_server
from scaffold.policies import fast_policy
from support.case import actions
from support.case.actions import AttachmentRef
from support.case.events import DeliveryFailed
from support.identity.verification import SealedAttempt, VerificationResult
from support.messaging.notifications import Audience, Notification
from support.policies.vocabulary import Severity, Via
from support.rules.request import CaseRequest
from workflows.support_case import SupportCaseWorkflow

OUT = PROJECT_ROOT / "tests" / "histories"
ENGINEER = "li.wei"


def request(name: str, tenant: str = "contoso", **fields: object) -> CaseRequest:
    admin = {"contoso": "admin@contoso.example", "fabrikam": "it@fabrikam.example"}[tenant]
    return CaseRequest.model_validate(
        {
            "request_id": f"rec-{name}",
            "tenant_id": tenant,
            "requester": admin,
            "category": "technical",
            "severity": "B",
            "title": f"Recorded scenario {name}",
            "description": "A representative case recorded for replay tests.",
            "contact_email": admin,
        }
        | fields
    )


Scenario = Callable[[WorkflowEnvironment, Cases, Settings], Awaitable[str]]


async def severity_a_resolved_with_survey(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("a-resolved", severity="A", service="teams"))).case.case_id
    for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
        await cases.act(case, actions.Cooperation(request_id=obligation, details="provided"))
    await env.sleep(timedelta(minutes=20))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Investigating"))
    await env.sleep(timedelta(hours=3))
    await cases.act(case, actions.CustomerUpdate(engineer=ENGINEER, message="Fix rolling out"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Routing fixed"))
    await env.sleep(timedelta(days=7, minutes=1))
    await cases.act(case, actions.SurveyAnswer(score=5, comment="fast"))
    await env.sleep(timedelta(minutes=1))
    return case


async def deliveries_on_their_own_queue(env: WorkflowEnvironment, cases: Cases, settings: Settings) -> str:
    """A whole A case recorded after its deliveries moved to a task queue of their own (the
    patch deliveries-on-their-own-task-queue); the older recordings deliver on the case's queue."""
    case = (await cases.open(request("own-queue", severity="A", service="teams"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="impact_analysis", details="provided"))
    await env.sleep(timedelta(minutes=35))  # the 50 % warning
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Investigating"))
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Routing fixed"))
    await env.sleep(timedelta(days=7, minutes=1))
    await cases.act(case, actions.SurveyAnswer(score=4))
    await env.sleep(timedelta(minutes=1))
    return case


async def notification_bounced(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """A B case whose customer confirmed the contact data; the acknowledgement then bounces (a DSN
    reported by the inbound mail, update `notification_bounced`; patch
    unreachable-customer-tells-the-assignee): failed once (a second report is refused), the
    assignee told, the contact-data obligation outstanding again until an engineer accepts it."""
    case = (await cases.open(request("bounced", severity="B"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    bounced = DeliveryFailed(
        notification=Notification(
            notification_id=f"{case}/acknowledged/0/customer",
            case_id=case,
            event="acknowledged",
            template="acknowledged",
            audience=Audience.CUSTOMER,
            time_zone="UTC",
        ),
        reason="bounced after it was sent: 550 5.1.1 <a***@contoso.example>: User unknown",
    )
    handle = cases.client.get_workflow_handle(case)
    await handle.execute_update(SupportCaseWorkflow.notification_bounced, bounced, id="bounce-recorded")
    try:
        await handle.execute_update(SupportCaseWorkflow.notification_bounced, bounced, id="bounce-again")
        raise AssertionError("a second report for the same notification was taken")
    except WorkflowUpdateFailedError:
        pass  # refused by the validator: no event
    await cases.act(case, actions.ObligationAcceptance(request_id="contact_data", engineer=ENGINEER))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Done"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def obligations_asked_again_after_upgrade(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """A to B waives A's obligations; back to A asks them again (the patch
    waived-obligations-asked-again); the customer provides them and the case is resolved."""
    case = (await cases.open(request("asked-again", severity="A"))).case.case_id
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(
        case, actions.SeverityChangeRequest(engineer=ENGINEER, severity=Severity.B, reason="contained")
    )
    await env.sleep(timedelta(hours=1))
    await cases.act(
        case, actions.SeverityChangeRequest(engineer=ENGINEER, severity=Severity.A, reason="spreading")
    )
    for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
        await cases.act(case, actions.Cooperation(request_id=obligation, details="provided"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Done"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def severity_a_breach_then_change(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("a-breach", severity="A"))).case.case_id
    await env.sleep(timedelta(minutes=70))  # warnings, breach
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Sorry for the wait"))
    await cases.act(
        case, actions.SeverityChangeRequest(engineer=ENGINEER, severity=Severity.B, reason="contained")
    )
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Done"))
    await env.sleep(timedelta(days=14, minutes=1))  # reopen window, survey expires
    return case


async def severity_b_downgrade_then_unresponsive(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("b-downgrade", "fabrikam"))).case.case_id
    await cases.act(
        case, actions.FirstResponse(engineer=ENGINEER, message="Please confirm your contact data")
    )
    await env.sleep(timedelta(days=6))  # B -> C after 1 business day, then closed unresponsive
    return case


async def severity_c_pause_and_resume(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("c-pause", severity="C"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(case, actions.CustomerActionRequest(engineer=ENGINEER, what="A screenshot"))
    await env.sleep(timedelta(hours=10))
    await cases.act(case, actions.Cooperation(request_id="request-1", details="attached"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Explained the setting"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def reopened_case(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("reopen"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Cache cleared"))
    await env.sleep(timedelta(days=1))
    await cases.act(case, actions.ReopenRequest(requester="admin@contoso.example", reason="It is back"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Profile rebuilt"))
    await env.sleep(timedelta(days=7, minutes=1))
    await cases.act(case, actions.SurveyAnswer(score=3))
    await env.sleep(timedelta(minutes=1))
    return case


async def phone_verification(env: WorkflowEnvironment, cases: Cases, settings: Settings) -> str:
    return await _phone_verification("phone", env, cases, settings)


async def phone_verification_sealed(env: WorkflowEnvironment, cases: Cases, settings: Settings) -> str:
    """The code kept as a MAC under the server-side key, the attempts sealed by the intake's gate
    (`phone_verification` was recorded before: a salted hash, codes in clear)."""
    return await _phone_verification("phone-sealed", env, cases, settings)


async def _phone_verification(name: str, env: WorkflowEnvironment, cases: Cases, settings: Settings) -> str:
    case = (await cases.open(request(name, channel="phone", caller_number="+8613900000001"))).case.case_id
    code = ""
    for _ in range(100):
        messages = [m for m in read_mailbox(settings.mail_dir) if m["X-Casework-Case"] == case]
        found = [re.search(r"\b(\d{6})\b", text_of(m)) for m in messages]
        if found and found[-1]:
            code = found[-1][1]
            break
        await asyncio.sleep(0.05)
    gate, caller = verification_gate(settings), await case_caller(env.client, case)

    async def send(sealed: SealedAttempt) -> VerificationResult:
        handle = env.client.get_workflow_handle(case)
        result: VerificationResult = await handle.execute_update(SupportCaseWorkflow.verify, sealed)
        return result

    for attempt in (f"{(int(code) + 1) % 1_000_000:06d}", code):
        await gate.attempt(case, caller.tenant_id, caller.caller_number, attempt, send)
    await env.sleep(timedelta(seconds=1))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Verified; looking"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Done"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def refused_not_admin(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("refused", requester="staff@contoso.example"))).case.case_id
    await env.sleep(timedelta(seconds=1))
    return case


async def continued_as_new(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    case = (await cases.open(request("continued", "fabrikam"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await env.sleep(timedelta(seconds=2))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await env.sleep(timedelta(days=4))  # follow-ups and missed updates, across several runs
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Patched"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def burst_of_updates_continues_as_new(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Bursts of concurrent updates on a case that continues as new every few dozen events: each
    continue-as-new waits for the deliveries the updates started (the patch
    `deliveries-started-while-draining-awaited`), refusing engineers' actions meanwhile."""
    case = (await cases.open(request("burst", "fabrikam"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await env.sleep(timedelta(seconds=2))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))

    async def update(n: int) -> None:
        for _ in range(100):  # sent again while the case moves to a new run
            try:
                await cases.act(case, actions.CustomerUpdate(engineer=ENGINEER, message=f"Update {n}"))
                return
            except Exception:  # refused while moving, or it reached the run that had just moved
                await asyncio.sleep(0.1)
        raise RuntimeError(f"update {n} was never accepted")

    for burst in range(3):
        await asyncio.gather(*(update(10 * burst + n) for n in range(6)))
        await env.sleep(timedelta(seconds=2))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Patched"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def intake_waits_for_decision(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """The intake's `decided` update (added after the first recordings) in a history."""
    case = (await cases.open(request("decided"))).case.case_id
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="On it"))
    await env.sleep(timedelta(minutes=5))
    return case


async def context_unreadable_then_retried(env: WorkflowEnvironment, cases: Cases, settings: Settings) -> str:
    """The policy file cannot be read when the case opens: the worker's quick local reads fail,
    the read goes on as a server-side activity, and the case is decided once the file is fixed."""
    good = settings.policy_path.read_text(encoding="utf-8")
    settings.policy_path.write_text("[broken", encoding="utf-8")
    impatient = Cases(env.client, settings.task_queue, open_wait=timedelta(seconds=3))
    try:
        view = (await impatient.open(request("unreadable"))).case
        raise RuntimeError(f"the case was decided on a broken policy file ({view.status})")
    except Unavailable:
        pass
    settings.policy_path.write_text(good, encoding="utf-8")
    case = (await cases.open(request("unreadable"))).case.case_id
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="On it"))
    await env.sleep(timedelta(minutes=5))
    return case


async def late_timers_after_worker_outage(
    out: Path, settings: Settings, tmp: Path, name: str = "late_timers_after_worker_outage"
) -> None:
    """No worker while the 50 %, 80 % and breach points pass; they are handled late, together.
    On the dev server in real time (seconds): the time-skipping server does not move time past a
    timer whose workflow task no worker takes. Recorded as `late_timers_after_worker_outage` before
    the patch superseded-sla-warnings-not-sent (all three sent), and again as
    `superseded_warnings_not_sent` after it (the warnings recorded and not sent)."""
    policy = fast_policy(tmp, first_response="4s", report_late_after="1s")
    alone = settings.replace(task_queue=settings.task_queue + "-late", policy_path=policy)
    env = await start_local_server()
    try:
        cases = Cases(env.client, alone.task_queue)
        async with build_worker(env.client, alone):
            case = (await cases.open(request("late", severity="A"))).case.case_id
            await asyncio.sleep(1)  # its opening notifications are delivered
        await asyncio.sleep(6)  # every checkpoint passes with no worker
        async with build_worker(env.client, alone):
            for _ in range(100):
                if (await cases.show(case)).sla_breached:
                    break
                await asyncio.sleep(0.1)
            await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Sorry for the wait"))
            await asyncio.sleep(1)
            runs = await fetch_runs(env.client, case)
        (out / f"{name}.json").write_text(export_json(runs), encoding="utf-8")
        print(f"{name}: {case}, {len(runs)} run(s), {sum(len(r.events) for r in runs)} events")
    finally:
        await env.shutdown()


def _reply(text: str, *attachments: str) -> actions.CustomerReply:
    def sha(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    return actions.CustomerReply(
        message_id=sha(f"<{text}@mail.contoso.example>"),
        sender="a***@contoso.example",
        body=text,
        attachments=[
            AttachmentRef(attachment_id=sha(name), filename=name, content_type="text/plain", size=120)
            for name in attachments
        ],
    )


async def team_case_withdrawn(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 15: the first response (its assignee attribute behind a patch), a note, a request
    answered by the customer's email reply (with an attachment), a handover, the new assignee's
    follow-up, then the customer withdraws it (no survey)."""
    case = (await cases.open(request("team-withdrawn"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(case, actions.InternalNote(engineer=ENGINEER, note="Suspect the MX change of last week"))
    await cases.act(case, actions.CustomerActionRequest(engineer=ENGINEER, what="A trace"))
    await env.sleep(timedelta(hours=2))
    await cases.receive_reply(case, _reply("Here is the trace", "trace.txt"))
    await cases.act(case, actions.Assignment(engineer=ENGINEER, assignee="zhang.min", reason="On leave"))
    await env.sleep(timedelta(days=2))  # B: the new assignee's idle follow-up
    await cases.act(case, actions.Withdrawal(requester="admin@contoso.example", reason="It fixed itself"))
    await env.sleep(timedelta(minutes=1))
    return case


async def survey_answered_by_reply(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 15: a reply to the resolved case is a message (not a reopening); a reply with a score
    answers the survey."""
    case = (await cases.open(request("survey-reply", severity="C"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Explained the setting"))
    await cases.receive_reply(case, _reply("Thanks, that did it"))
    await env.sleep(timedelta(days=7, minutes=1))
    await cases.receive_reply(case, _reply("5 - quick and clear"))
    await env.sleep(timedelta(minutes=1))
    return case


async def next_deadline_published(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 16: the queue's NextDeadline and ClockPaused attributes (behind a patch) follow the
    first response's due time, the customer-update clock, its pause for the customer and its
    resumption by their reply, and the resolution."""
    case = (await cases.open(request("next-deadline", severity="A"))).case.case_id
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(case, actions.CustomerActionRequest(engineer=ENGINEER, what="A trace"))
    await env.sleep(timedelta(minutes=30))
    await cases.receive_reply(case, _reply("The trace of the failed delivery", "trace.txt"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="MX record fixed"))
    await env.sleep(timedelta(minutes=1))
    return case


async def obligations_answered_by_reply(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 23: the admin answers every obligation by one email reply (the patch
    obligations-answered-by-reply): no reminder, no downgrade; the agent accepts two and asks for
    the third again (a new due time, the customer told why), which a second reply answers."""
    case = (await cases.open(request("answered-by-reply", severity="A"))).case.case_id
    await env.sleep(timedelta(seconds=7))
    await cases.receive_reply(case, _reply("Impact: 400 users. Reachable: Wang Fang, 24x7. Data confirmed."))
    await env.sleep(timedelta(hours=3))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    for obligation in ("impact_analysis", "contact_data"):
        await cases.act(case, actions.ObligationAcceptance(engineer=ENGINEER, request_id=obligation))
    again = actions.ObligationAskedAgain(
        engineer=ENGINEER, request_id="reachable_contacts", reason="No phone number"
    )
    await cases.act(case, again)
    await env.sleep(timedelta(hours=1, minutes=1))  # one reminder
    await cases.receive_reply(case, _reply("Wang Fang: +86 10 5555 0100"))
    await cases.act(case, actions.ObligationAcceptance(engineer=ENGINEER, request_id="reachable_contacts"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="MX record fixed"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def reopened_by_reply(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 23: the customer's reply to the resolved case within the window reopens it (patch
    reopen-by-reply); resolved again, the window ends and the survey goes out."""
    case = (await cases.open(request("reopened-by-reply", severity="B"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="MX record fixed"))
    await env.sleep(timedelta(days=1))
    await cases.receive_reply(case, _reply("Please reopen: mail bounces again"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="MX record fixed for good"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def thread_messages_kept(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 23: each message the case takes is kept in full in the database by a local activity
    (the patch thread-messages-kept): a response, a note, a request, a reply by email and a
    comment from the portal (the same event), an update, a reopen and the resolution."""
    case = (await cases.open(request("thread-kept"))).case.case_id
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking at it", via=Via.CONSOLE))
    await cases.act(
        case, actions.InternalNote(engineer=ENGINEER, note="Suspect the MX change", via=Via.CONSOLE)
    )
    await cases.act(case, actions.CustomerActionRequest(engineer=ENGINEER, what="Send a trace"))
    await cases.receive_reply(case, _reply("The trace is attached."))
    comment = actions.CustomerReply(
        message_id=hashlib.sha256(b"thread-kept-comment").hexdigest(),
        sender="contoso-portal",
        body="Still failing since 10:00",
        via=Via.PORTAL,
    )
    await cases.receive_reply(case, comment)
    await cases.act(case, actions.CustomerUpdate(engineer=ENGINEER, message="Fix rolling out"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="MX record fixed"))
    await cases.act(case, actions.ReopenRequest(requester="admin@contoso.example", reason="It is back"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Fixed for good"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def patches_folded(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 26: a case of the code that folds its patches into one (`workflows.patches`: one
    marker instead of one per patch) and answers actions with receipts: obligations, a response,
    a request answered by email, an update, a resolution, a reopening, and the survey expiring."""
    case = (await cases.open(request("patches-folded"))).case.case_id
    await cases.act(case, actions.Cooperation(request_id="contact_data", details="confirmed"))
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking at it"))
    await cases.act(case, actions.CustomerActionRequest(engineer=ENGINEER, what="Send a trace"))
    await cases.receive_reply(case, _reply("The trace is attached."))
    await cases.act(case, actions.CustomerUpdate(engineer=ENGINEER, message="Fix rolling out"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="MX record fixed"))
    await cases.act(case, actions.ReopenRequest(requester="admin@contoso.example", reason="It is back"))
    await cases.act(case, actions.Resolution(engineer=ENGINEER, summary="Fixed for good"))
    await env.sleep(timedelta(days=14, minutes=1))
    return case


async def attributes_derived(env: WorkflowEnvironment, cases: Cases, _: Settings) -> str:
    """Issue 27: a case of the code that derives its search attributes from its view (one upsert
    per decision, only of what changed, or none) and wakes when its agenda's first item changes:
    a response, a handover, a note (no upsert), a request that pauses the clock, the customer's
    reply two hours later, and the customer withdrawing the case (its run ends on the change)."""
    case = (await cases.open(request("attributes-derived"))).case.case_id
    await cases.act(case, actions.FirstResponse(engineer=ENGINEER, message="Looking at it"))
    await cases.act(case, actions.Assignment(engineer=ENGINEER, assignee="zhang.min", reason="handover"))
    await cases.act(case, actions.InternalNote(engineer=ENGINEER, note="no attribute changes"))
    await cases.act(
        case, actions.CustomerActionRequest(engineer=ENGINEER, what="Send a trace", pauses_clock=True)
    )
    await env.sleep(timedelta(hours=2))
    await cases.receive_reply(case, _reply("The trace is attached."))
    await cases.act(case, actions.Withdrawal(requester="admin@contoso.example", reason="It fixed itself"))
    await env.sleep(timedelta(minutes=1))
    return case


SCENARIOS: dict[str, Scenario] = {
    "attributes_derived": attributes_derived,
    "patches_folded": patches_folded,
    "severity_a_resolved_with_survey": severity_a_resolved_with_survey,
    "severity_a_breach_then_change": severity_a_breach_then_change,
    "severity_b_downgrade_then_unresponsive": severity_b_downgrade_then_unresponsive,
    "severity_c_pause_and_resume": severity_c_pause_and_resume,
    "reopened_case": reopened_case,
    "phone_verification": phone_verification,
    "phone_verification_sealed": phone_verification_sealed,
    "refused_not_admin": refused_not_admin,
    "intake_waits_for_decision": intake_waits_for_decision,
    "deliveries_on_their_own_queue": deliveries_on_their_own_queue,
    "obligations_asked_again_after_upgrade": obligations_asked_again_after_upgrade,
    "team_case_withdrawn": team_case_withdrawn,
    "survey_answered_by_reply": survey_answered_by_reply,
    "next_deadline_published": next_deadline_published,
    "obligations_answered_by_reply": obligations_answered_by_reply,
    "reopened_by_reply": reopened_by_reply,
    "thread_messages_kept": thread_messages_kept,
    "notification_bounced": notification_bounced,
    # The context read by the worker in the case's first task (a local activity, patch
    # `context-local-activity`); the older recordings keep the context activity.
    "context_read_in_the_first_task": intake_waits_for_decision,
}


SUPERSEDED = "superseded_warnings_not_sent"  # the outage again, after the patch: warnings not sent


async def record(out: Path, only: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, local_services(Path(tmp) / "var") as settings:
        tiny_policy = Path(tmp) / "tiny-history.toml"
        tiny_policy.write_text(
            settings.policy_path.read_text().replace(
                "continue_as_new_after_events = 5000", "continue_as_new_after_events = 40"
            )
        )
        tiny = settings.replace(task_queue=settings.task_queue + "-tiny", policy_path=tiny_policy)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(venv_binary("temporal-test-server")),
            data_converter=pydantic_data_converter,
        )
        try:
            await register_case_search_attributes(env.client)
            plans = [(name, scenario, settings) for name, scenario in SCENARIOS.items()]
            plans.append(("continued_as_new", continued_as_new, tiny))
            plans.append(("burst_of_updates_continues_as_new", burst_of_updates_continues_as_new, tiny))
            own_policy = Path(tmp) / "own-policy.toml"
            own_policy.write_text(settings.policy_path.read_text())
            breakable = settings.replace(
                task_queue=settings.task_queue + "-breakable", policy_path=own_policy
            )
            plans.append(("context_unreadable_then_retried", context_unreadable_then_retried, breakable))
            for name, scenario, scenario_settings in plans:
                if only and name not in only:
                    continue
                async with build_worker(env.client, scenario_settings):
                    cases = Cases(
                        env.client,
                        scenario_settings.task_queue,
                        staff=staff_from_file(scenario_settings.staff_file),
                        # an action's deadline on the cases' (skipped) clock, not this host's
                        case_clock=env.get_current_time,
                    )
                    case_id = await scenario(env, cases, scenario_settings)
                    runs = await fetch_runs(env.client, case_id)
                (out / f"{name}.json").write_text(export_json(runs), encoding="utf-8")
                print(f"{name}: {case_id}, {len(runs)} run(s), {sum(len(r.events) for r in runs)} events")
        finally:
            await env.shutdown()
        if not only or "late_timers_after_worker_outage" in only:
            await late_timers_after_worker_outage(out, settings, Path(tmp))
        if not only or SUPERSEDED in only:
            await late_timers_after_worker_outage(out, settings, Path(tmp), SUPERSEDED)


if __name__ == "__main__":
    # record_histories.py [DIR [SCENARIO ...]]: only the named scenarios, so that histories
    # recorded by older code stay as they were and keep proving compatibility.
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(target, set(sys.argv[2:])))

"""Opening a case: the tenant's context (read by the worker in the case's first task), then,
for a phone call from a number the tenant has not registered, a one-time code to a registered
contact and the wait for the caller's answer. The case's workflow hands over how it carries out
events (`apply`) and waits (`wait_until`); the machine decides what each step means."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.patches import LOCAL_CONTEXT_PATCH  # the context read locally (patches.py: why)

with workflow.unsafe.imports_passed_through():
    from activities.case_context import CaseContextActivities, ContextRequest
    from activities.verification import VERIFICATION_LOCKED, CodeRequest, VerificationActivities
    from support.case.context import CaseContext
    from support.case.effects import Decision
    from support.case.events import CodeNotSent, CodeSent, Event, VerificationWaitOver
    from support.case.record import CaseRecord
    from support.identity.phone_verification import needs_code
    from support.policies.vocabulary import Channel
    from workflows.patches import patched

CONTEXT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# The context is a quick read (policy file, directory): the worker that runs the case's first
# task reads it there, as a local activity, with no round trip through the server
# (bench/README.md). A few quick tries only: a context that cannot be read (a broken policy file, the
# database down) goes on as a server-side activity retried until it can, which waits without
# adding to the case's history, where local retries would add a task every few seconds.
LOCAL_CONTEXT_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)

Apply = Callable[[Event], Decision]
WaitUntil = Callable[[Callable[[], bool], datetime], Awaitable[bool]]


async def open_case(case: CaseRecord, apply: Apply, wait_until: WaitUntil) -> None:
    request, view = case.request, case.view
    wanted = ContextRequest(
        tenant_id=request.tenant_id,
        requester=request.requester,
        opened_at=view.created_at,
        caller_number=request.caller_number if request.channel is Channel.PHONE else None,
        service=request.service,
    )
    context: CaseContext | None = None
    if patched(LOCAL_CONTEXT_PATCH):
        try:
            context = await workflow.execute_local_activity_method(
                CaseContextActivities.load_case_context,
                wanted,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=LOCAL_CONTEXT_RETRY,
            )
        except (ActivityError, ApplicationError):  # a local activity's failure may come unwrapped
            workflow.logger.warning("case context not read locally; retrying it as an activity")
    if context is None:
        context = await workflow.execute_activity_method(
            CaseContextActivities.load_case_context,
            wanted,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=CONTEXT_RETRY,
        )
    apply(context)
    if needs_code(case):
        await _verify_caller(case, apply, wait_until)


async def _verify_caller(case: CaseRecord, apply: Apply, wait_until: WaitUntil) -> None:
    """Phone intake from an unregistered number: a one-time code to a registered contact."""
    try:
        issued = await workflow.execute_activity_method(
            VerificationActivities.send_verification_code,
            CodeRequest(
                case_id=case.view.case_id,
                tenant_id=case.facts.tenant_id,
                language=case.request.language,
                time_zone=case.facts.time_zone,  # the code's expiry in the tenant's own time
                caller_number=case.request.caller_number,
                valid_for=case.rules.verification.expires_after,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=["NoRegisteredContact"]),
        )
    except ActivityError as error:
        cause = error.cause
        locked = isinstance(cause, ApplicationError) and cause.type == VERIFICATION_LOCKED
        reason = cause.message if isinstance(cause, ApplicationError) else str(error)
        apply(CodeNotSent(locked=locked, reason=reason))
        return
    apply(CodeSent(issued=issued))
    verification = case.view.verification
    assert verification is not None
    await wait_until(lambda: verification.outcome != "pending", verification.expires_at)
    apply(VerificationWaitOver())

"""Keeping a message of the case's thread: a local activity first (the worker that took the
action writes it at once, with nothing but a marker in the history: the text is not copied into
it again), and, when that fails a few times (the database down), an activity retried until it
can. The action's update answers once its message is kept, so whoever sent it reads it back."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.thread import ThreadActivities
    from support.case.effects import Decision, Keep
    from support.case.thread_message import ThreadMessage
    from workflows.case_opening import CONTEXT_RETRY, LOCAL_CONTEXT_RETRY


async def keep(decision: Decision) -> None:
    """Every message `decision` asks to keep, in order."""
    for effect in decision.effects:
        if isinstance(effect, Keep):
            await _keep(effect.message)


async def _keep(message: ThreadMessage) -> None:
    try:
        await workflow.execute_local_activity_method(
            ThreadActivities.keep_message,
            message,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=LOCAL_CONTEXT_RETRY,
        )
        return
    except (ActivityError, ApplicationError):  # a local activity's failure may come unwrapped
        workflow.logger.warning("thread message not kept locally; retrying it as an activity")
    await workflow.execute_activity_method(
        ThreadActivities.keep_message,
        message,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=CONTEXT_RETRY,
    )

"""The deliveries of one case: each notification runs as its own task beside the case's timers,
and `settle()` waits until, at one instant, every handler has finished and every delivery is done
(or its failure recorded), so a case never returns or continues as new with a notification in
flight. The case's workflow owns one; as samples-python's `UpdatableTimer` owns its timer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

# Cases before these delivered on the case's own task queue, and forgot deliveries started while
# earlier ones drained; they replay the old way (workflows/patches.py says why each exists).
from workflows.patches import DRAIN_STARTED_DURING_WAIT_PATCH, OWN_QUEUE_PATCH

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from support.messaging.notifications import Notification, urgency
    from support.policies.policy import DeliveryRule
    from workflows.patches import patched


def deliveries_queue(case_queue: str) -> str:
    """The task queue of a case's deliveries: beside the case's own, with a worker (and activity
    slots) of its own, so that deciding a case (loading its context, sending a verification code)
    never waits behind mail, whatever the priorities of the deliveries."""
    return f"{case_queue}-deliveries"


class Deliveries:
    def __init__(self, failed: Callable[[Notification, str], None]) -> None:
        self._failed = failed  # told of a notification no route could deliver, with the reason
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, notification: Notification, rule: DeliveryRule) -> None:
        self._tasks.append(asyncio.create_task(self._deliver(notification, rule)))

    async def _deliver(self, notification: Notification, rule: DeliveryRule) -> None:
        """Deliver with retries for as long as the policy allows."""
        queue = None
        if patched(OWN_QUEUE_PATCH):
            queue = deliveries_queue(workflow.info().task_queue)
        try:
            await workflow.execute_activity_method(
                DeliveryActivities.deliver_notification,
                notification,
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=rule.retry_for,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1), maximum_interval=rule.max_interval
                ),
                priority=Priority(priority_key=urgency(notification.event, notification.audience)),
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError):
                self._failed(notification, cause.message)
            else:
                self._failed(notification, f"not delivered within {rule.retry_for} of retries")

    async def _drain(self) -> None:
        """Wait for every delivery in flight, including the ones a handler starts meanwhile:
        forgetting those lost their notifications when a burst of updates met a continue-as-new."""
        while self._tasks:
            pending = list(self._tasks)  # handlers start deliveries meanwhile
            await asyncio.gather(*pending)
            if not patched(DRAIN_STARTED_DURING_WAIT_PATCH):
                self._tasks = []
                return
            self._tasks = [task for task in self._tasks if task not in pending]

    async def settle(self) -> None:
        """Until, at one instant, every handler has finished and every delivery is done: a handler
        that runs while deliveries drain can start a new delivery."""
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._tasks:
                return
            await self._drain()

"""SupportCaseWorkflow: one support case, from request to closed.

A thin shell around the case's machine (`support.case.machine`): every handler turns what it
learns into an event, lets the machine decide, and carries out the effects (deliveries, search
attributes, metrics, logs). The run sleeps until the first item of the case's agenda (a pure
function of the case) or until the case changes, then tells the machine that time passed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.archive import ArchiveActivities
    from support.case.action_ids import ALREADY_TAKEN, NO_SUCH_CASE, TOO_LATE, foreign, remember, too_late
    from support.case.action_receipt import ActionReceipt, clock_marks, receipt
    from support.case.actions import Cooperation, SurveyAnswer
    from support.case.agenda import agenda, case_done
    from support.case.effects import Count, Decision, Log, Observe, SetAttributes, Tell
    from support.case.events import (
        DeliveryFailed,
        Event,
        TimePassed,
    )
    from support.case.machine import decide, refusal
    from support.case.record import CarriedCase, CaseRecord, CaseStart
    from support.case.view import CaseView
    from support.identity.verification import SealedAttempt, VerificationResult
    from support.messaging.notifications import Notification
    from support.policies.vocabulary import CaseStatus
    from support.reporting.whatif import LiveInputs
    from support.rules.request import RequestDetails
    from support.sla_clocks.ledger import SlaBasis
    from workflows import search_attributes as sa
    from workflows.action_updates import action_update, with_action_updates
    from workflows.case_opening import CONTEXT_RETRY, open_case
    from workflows.deliveries import Deliveries
    from workflows.patches import patched
    from workflows.thread_writes import keep

__all__ = ["CarriedCase", "CaseStart", "SupportCaseWorkflow"]


@workflow.defn
@with_action_updates
class SupportCaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self._case = CaseRecord.begin(start, workflow.now(), workflow.info().workflow_id, patched)
        self._deliveries = Deliveries(self._delivery_failed)
        self._changed = False  # the case changed in a way its agenda may see
        self._moving = False  # settling before continue-as-new: engineers' actions wait for the new run

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        if start.carried is None:
            await open_case(self._case, self._apply, self._wait_until)
        else:
            workflow.logger.info("case continued as new", extra={"status": self._case.view.status.value})
        case = self._case
        while not case_done(case.view):
            if self._history_is_long():
                await self._continue_as_new()
            upcoming = agenda(case.view, case.calendar, case.rules)
            self._changed = False
            if upcoming:
                await self._wait_until(lambda: self._changed, upcoming[0].at)
            else:
                await workflow.wait_condition(lambda: self._changed)
            self._apply(TimePassed())
        return await self._finish()

    # -- carrying out what the machine decided ---------------------------------------------------

    def _apply(self, event: Event) -> Decision:
        update = workflow.current_update_info()
        if update is not None:  # an action: remembered across runs (Temporal dedups within one)
            remember(self._case.taken, update.id)
        decision = decide(self._case, event, workflow.now())
        for effect in decision.effects:
            if isinstance(effect, Tell):
                self._deliveries.start(effect.notification, self._case.rules.delivery)
            elif isinstance(effect, SetAttributes):
                workflow.upsert_search_attributes([sa.update(k, v) for k, v in effect.values])
            elif isinstance(effect, Count):
                workflow.metric_meter().create_counter(effect.name, effect.description).add(1, effect.labels)
            elif isinstance(effect, Observe):
                histogram = workflow.metric_meter().create_histogram_float(
                    effect.name, effect.description, "s"
                )
                histogram.record(effect.seconds, effect.labels)
            elif isinstance(effect, Log):
                _LOG[effect.level](effect.message, extra=dict(effect.extra))
            # Keep: the handler that took the message awaits its write (workflows.thread_writes)
        if decision.wake:
            self._changed = True
        return decision

    def _take(self, action: Event) -> tuple[Decision, ActionReceipt]:
        """Carry out an action of an update, and its answer: a receipt, not the view (issue 26:
        the answer is written into the history; the caller reads the view with one query)."""
        before = clock_marks(self._case.view)
        decision = self._apply(action)
        return decision, receipt(self._case.view, before)

    def _delivery_failed(self, notification: Notification, reason: str) -> None:
        self._apply(DeliveryFailed(notification=notification, reason=reason))

    def _check(self, action: BaseModel) -> None:
        """An update's validator: a refused action is rejected before it is recorded. An action
        that reaches the case after the instant its update id carries (the intake has stopped
        waiting for it: `support.case.action_ids`) is refused too. Validators run only when an update
        arrives, never on replay, and a refused update leaves no event: no history changes."""
        update = workflow.current_update_info()
        if update is not None and foreign(update.id, self._case.request.tenant_id):
            raise ValueError(NO_SUCH_CASE)  # a caller of another tenant: as if there were no case
        if update is not None and update.id in self._case.taken:  # taken in an earlier run
            raise ValueError(ALREADY_TAKEN)
        if update is not None and too_late(update.id, workflow.now()):
            raise ValueError(TOO_LATE)
        reason = refusal(self._case, action, workflow.now(), self._moving)
        if reason is not None:
            raise ValueError(reason)

    async def _wait_until(self, condition: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `condition` or the absolute `deadline`; True when the condition holds."""
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(condition, timeout=remaining)
        return condition()

    def _history_is_long(self) -> bool:
        info = workflow.info()
        limit = self._case.rules.history.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= limit

    async def _finish(self) -> CaseView:
        """Every notification delivered (or its failure recorded), the record archived, handlers done."""
        await self._deliveries.settle()
        await workflow.execute_activity_method(
            ArchiveActivities.archive_case,
            self._case.archive(),  # the view and more; the command is the same as ever
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=CONTEXT_RETRY,
        )
        return self._case.view

    async def _continue_as_new(self) -> None:
        self._moving = True
        await self._deliveries.settle()
        workflow.continue_as_new(self._case.carried())

    # -- agent and customer actions (updates; two signals of old), and the view (query) --------

    @workflow.query
    def view(self) -> CaseView:
        return self._case.view

    @workflow.query
    def shown(self) -> CaseView:
        """The view, with what the customer wrote and whom to reach beside it once the case is
        decided: what the intake shows whoever may read the case, in one query (issue 26)."""
        view = self._case.view
        if view.status is CaseStatus.NEW:
            return view
        return view.model_copy(update={"request": self._case.details()})

    @workflow.query
    def request_details(self) -> RequestDetails:
        """What the customer wrote and whom to reach (from the case's input): the intake shows it
        beside the view to whoever may read the case."""
        return self._case.details()

    @workflow.query
    def sla_basis(self) -> SlaBasis:
        """The record and the policy snapshot the case's SLA ledger is derived from (a query:
        the ledger changes no command, and the caller reads it at its own instant)."""
        case = self._case
        zone = case.tenant.time_zone if case.tenant is not None else None
        return SlaBasis(view=case.view, policy=case.policy, tenant_time_zone=zone, tenant=case.tenant)

    @workflow.query
    def shown_basis(self) -> SlaBasis:
        """`shown` and `sla_basis` in one answer: the console's case page draws the view, the
        actions the case takes now and the clock bars from one query, so a click is the action
        and one read (issue 26)."""
        return self.sla_basis().model_copy(update={"view": self.shown()})

    @workflow.query
    def case_inputs(self) -> LiveInputs:
        """The view and every input the machine saw, for a policy what-if (operators only)."""
        return LiveInputs(view=self._case.view, inputs=self._case.archived_inputs())

    @workflow.update
    async def decided(self) -> CaseView:
        """The case once it is decided (accepted, awaiting verification, or refused): the intake
        answers the caller with it as soon as it is, instead of polling the view."""
        await workflow.wait_condition(lambda: self._case.view.status is not CaseStatus.NEW)
        return self._case.view

    @workflow.update
    async def reached(self, status: CaseStatus) -> CaseStatus:
        """Answers once the case is in `status` (a driver or a test waits on it instead of polling
        the case; an update that never answers ends with the case)."""
        await workflow.wait_condition(lambda: self._case.view.status is status)
        return status

    @workflow.update
    def verify(self, attempt: SealedAttempt) -> VerificationResult:
        """The caller's code, sealed by the intake (its MAC under the server-side key): the case
        compares MACs and never sees the code. Histories from before sealing carry the code."""
        reply = self._apply(attempt).reply
        assert reply is not None
        return reply

    @verify.validator
    def _check_verify(self, attempt: SealedAttempt) -> None:
        self._check(attempt)

    # Each person's action is an update whose validator asks the machine's `refusal` (`_check`) and
    # whose answer is a receipt (`_take`), one per row of `support.case.action_table`
    # (`with_action_updates`); those that write a thread message answer once it is kept.
    # a mail server's later report that a notification's mail was not delivered (interfaces.mail_in.bounces;
    # update id `bounce-<token>`): marked failed as a delivery that failed at once is, and once
    notification_bounced = action_update("notification_bounced", DeliveryFailed)
    # the `cooperate` and `survey` signals are kept for clients and histories from before: they take
    # what they get (the intake sends the `answer_request` and `answer_survey` updates, checked)

    @workflow.signal
    async def cooperate(self, answer: Cooperation) -> None:
        """Kept for running clients and recorded histories: the intake sends `answer_request`."""
        await workflow.wait_condition(lambda: self._case.view.status is not CaseStatus.NEW)
        await keep(self._apply(answer))

    @workflow.signal
    def survey(self, answer: SurveyAnswer) -> None:
        """Kept as `cooperate` is: the intake sends `answer_survey`."""
        self._apply(answer)


_LOG: dict[str, Callable[..., Any]] = {
    "info": workflow.logger.info,
    "warning": workflow.logger.warning,
    "error": workflow.logger.error,
}

"""SupportCaseWorkflow: one support case, from request to closed.

The workflow decides *when* (durable timers against absolute deadlines, updates, signals);
`support/` decides *what*. Everything the case learns from outside comes from activity results
or update payloads, so a replay takes exactly the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.case_context import CaseContext, CaseContextActivities, ContextRequest
    from activities.notify import NotifyActivities
    from support.actions import FirstResponse, Resolution
    from support.calendar import Calendar
    from support.case_terms import case_terms
    from support.case_view import CaseView, FirstResponseClock, Refusal, SeverityChange
    from support.display import local_time
    from support.eligibility import check_eligibility
    from support.notifications import Audience, DeliveryReceipt, Notification, notification_id
    from support.request import CaseRequest
    from support.sla import Checkpoint, ClockState, verdict
    from support.vocabulary import CaseStatus, ContactMethod
    from workflows import search_attributes as sa


class CaseStart(BaseModel):
    """Workflow input. A wrapper, so a later continue-as-new can carry state beside the request."""

    request: CaseRequest


# Notifications are never dropped: they retry with backoff, without limit, while the case's
# timers keep running; a later issue adds permanent-failure handling and alerting.
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
CONTEXT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class SupportCaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self._request = start.request
        self._view = CaseView.for_request(start.request, workflow.now())
        self._calendar: Calendar | None = None
        self._customer_zone = "UTC"
        self._close_after = timedelta(0)
        self._deliveries: list[workflow.ActivityHandle[DeliveryReceipt]] = []

    # -- the case, step by step ---------------------------------------------------------------

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        context = await workflow.execute_activity_method(
            CaseContextActivities.load_case_context,
            ContextRequest(tenant_id=self._request.tenant_id, opened_at=self._view.created_at),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=CONTEXT_RETRY,
        )
        refusal = check_eligibility(self._request.tenant_id, context.tenant)
        if refusal is not None:
            self._refuse(refusal)
            return await self._finish()

        self._open(context)
        await self._await_first_response()
        await workflow.wait_condition(lambda: self._view.status is CaseStatus.RESOLVED)
        assert self._view.closes_at is not None
        await self._wait_until(lambda: False, self._view.closes_at)
        self._close()
        return await self._finish()

    def _refuse(self, refusal: Refusal) -> None:
        now = workflow.now()
        self._view.status = CaseStatus.REFUSED
        self._view.refusal = refusal
        self._view.record(now, f"refused_{refusal.code}", refusal.message)
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.REFUSED.value))
        self._notify("refused", Audience.CUSTOMER, {"reason_code": refusal.code, "reason": refusal.message})
        workflow.logger.info("case refused", extra={"reason_code": refusal.code})

    def _open(self, context: CaseContext) -> None:
        assert context.tenant is not None
        policy, tenant, request = context.policy, context.tenant, self._request
        now = workflow.now()
        terms = case_terms(
            policy, request.category, request.severity, tenant.agreement, tenant.time_zone, now
        )
        decision, calendar, plan = terms.decision, terms.calendar, terms.first_response
        severity = decision.granted
        self._calendar = calendar
        self._customer_zone = tenant.time_zone
        self._close_after = policy.resolution.close_after

        view = self._view
        view.tenant_name = tenant.name
        view.policy_version = policy.version
        view.severity = severity
        view.calendar = terms.calendar_name
        view.time_zone = calendar.time_zone
        view.opened_at = now
        view.first_response = FirstResponseClock(
            target=str(plan.target),
            business_time=plan.business_time,
            due=plan.due,
            checkpoints=plan.checkpoints,
        )
        reason = "; ".join(cap.message for cap in decision.caps) or "as requested"
        view.severity_history.append(
            SeverityChange(at=now, severity=severity, previous=None, actor="system", reason=reason)
        )
        for cap in decision.caps:
            view.record(now, "severity_capped", f"{cap.code}: {cap.message}")
        view.record(
            now,
            "opened",
            f"opened at severity {severity.value} on the {view.calendar} calendar; first response due "
            f"{local_time(plan.due, calendar.time_zone)} ({plan.target} of business time)",
        )
        view.status = CaseStatus.AWAITING_FIRST_RESPONSE
        self._upsert(
            sa.CASE_STATUS.value_set(view.status.value),
            sa.CASE_SEVERITY.value_set(severity.value),
            sa.FIRST_RESPONSE_DUE.value_set(plan.due),
        )
        open_now = calendar.is_open(now)
        facts = {
            "case_id": view.case_id,
            "severity": severity.value,
            "requested_severity": request.severity.value,
            "severity_reason": reason,
            "first_response_due": plan.due.isoformat(),
            "first_response_due_local": local_time(plan.due, tenant.time_zone),
            "expected_wait_seconds": str(int(max(plan.due - now, timedelta(0)).total_seconds())),
            "support_open_now": "yes" if open_now else "no",
            "support_opens_at": local_time(calendar.next_open(now), tenant.time_zone),
        }
        self._notify("acknowledged", Audience.CUSTOMER, facts)
        self._notify("new_case", Audience.SUPPORT_QUEUE, facts | {"calendar": view.calendar})
        workflow.logger.info(
            "case opened",
            extra={"severity": severity.value, "due": plan.due.isoformat(), "capped": bool(decision.caps)},
        )

    async def _await_first_response(self) -> None:
        clock = self._clock
        for checkpoint in clock.checkpoints:
            if await self._wait_until(self._responded, checkpoint.at):
                return
            self._checkpoint_reached(checkpoint)
        # Breached: the case keeps waiting for its first response.
        await workflow.wait_condition(self._responded)

    def _checkpoint_reached(self, checkpoint: Checkpoint) -> None:
        now = workflow.now()
        clock, view = self._clock, self._view
        facts = {
            "case_id": view.case_id,
            "severity": str(view.severity),
            "first_response_due": clock.due.isoformat(),
        }
        if checkpoint.is_breach:
            clock.state = ClockState.BREACHED
            clock.breached_at = now
            view.sla_breached = True
            view.record(now, "sla_breached", "first response deadline passed without a response; escalated")
            self._upsert(sa.SLA_BREACHED.value_set(True))
            self._notify("sla_breached", Audience.DUTY_MANAGER, facts)
            workflow.logger.warning("first response SLA breached")
        else:
            clock.warnings_sent.append(checkpoint.event)
            percent = round(checkpoint.fraction * 100)
            view.record(
                now, checkpoint.event, f"{percent}% of the first-response business time used; no response yet"
            )
            self._notify(
                checkpoint.event, Audience.SUPPORT_QUEUE, facts | {"fraction": str(checkpoint.fraction)}
            )

    def _close(self) -> None:
        now = workflow.now()
        self._view.status = CaseStatus.CLOSED
        self._view.closed_at = now
        self._view.record(now, "closed", "closed after the resolution window")
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.CLOSED.value))

    async def _finish(self) -> CaseView:
        """Every notification delivered (or its failure recorded) and every handler done."""
        results = await asyncio.gather(*self._deliveries, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self._view.record(workflow.now(), "notification_failed", str(result))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view

    # -- agent actions (updates) and the view (query) ------------------------------------------

    @workflow.query
    def view(self) -> CaseView:
        return self._view

    @workflow.update
    def respond(self, action: FirstResponse) -> CaseView:
        self._record_first_response(action.engineer, action.message)
        self._view.status = CaseStatus.IN_PROGRESS
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.IN_PROGRESS.value))
        return self._view

    @respond.validator
    def _check_respond(self, action: FirstResponse) -> None:
        self._require_open("respond")
        clock = self._clock
        if clock.responded_at is not None:
            raise ValueError(
                f"the first response was already given by {clock.responded_by} at {clock.responded_at}"
            )

    @workflow.update
    def resolve(self, action: Resolution) -> CaseView:
        now = workflow.now()
        view = self._view
        if self._clock.responded_at is None:
            self._record_first_response(action.engineer, action.summary)
        view.status = CaseStatus.RESOLVED
        view.resolved_at = now
        view.resolved_by = action.engineer
        view.resolution_summary = action.summary
        view.closes_at = now + self._close_after
        view.record(now, "resolved", f"resolved: {action.summary}", actor=action.engineer)
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.RESOLVED.value))
        self._notify("resolved", Audience.CUSTOMER, {"case_id": view.case_id, "summary": action.summary})
        return view

    @resolve.validator
    def _check_resolve(self, action: Resolution) -> None:
        self._require_open("resolve")

    def _require_open(self, action: str) -> None:
        status = self._view.status
        if status is CaseStatus.NEW:
            raise ValueError(f"cannot {action}: the case is still being opened; try again in a moment")
        if status not in (CaseStatus.AWAITING_FIRST_RESPONSE, CaseStatus.IN_PROGRESS):
            raise ValueError(f"cannot {action}: the case is {status.value}")

    def _record_first_response(self, engineer: str, message: str) -> None:
        now = workflow.now()
        clock, view = self._clock, self._view
        assert self._calendar is not None and view.opened_at is not None
        clock.responded_at = now
        clock.responded_by = engineer
        clock.state = verdict(clock.due, now, now)
        clock.business_time_to_response = self._calendar.elapsed(view.opened_at, now)
        if clock.state is ClockState.BREACHED and not view.sla_breached:
            # Answered late in the same instant the breach timer came due.
            clock.breached_at = clock.due
            view.sla_breached = True
            self._upsert(sa.SLA_BREACHED.value_set(True))
        view.record(now, "first_response", f"first response ({clock.state.value}): {message}", actor=engineer)

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def _clock(self) -> FirstResponseClock:
        assert self._view.first_response is not None
        return self._view.first_response

    def _responded(self) -> bool:
        return self._view.first_response is not None and self._view.first_response.responded_at is not None

    async def _wait_until(self, condition: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `condition` or the absolute `deadline`; True when the condition holds."""
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(condition, timeout=remaining)
        return condition()

    def _upsert(self, *updates: SearchAttributeUpdate[Any]) -> None:
        workflow.upsert_search_attributes(list(updates))

    def _notify(self, event: str, audience: Audience, facts: dict[str, str], sequence: int = 0) -> None:
        request = self._request
        recipient = None
        if audience is Audience.CUSTOMER:
            use_phone = request.preferred_contact is ContactMethod.PHONE and request.contact_phone
            recipient = request.contact_phone if use_phone else request.contact_email
        notification = Notification(
            notification_id=notification_id(self._view.case_id, event, sequence),
            case_id=self._view.case_id,
            event=event,
            audience=audience,
            language=request.language,
            recipient=recipient,
            facts=facts | {"customer_time_zone": self._customer_zone},
        )
        self._deliveries.append(
            workflow.start_activity_method(
                NotifyActivities.send_notification,
                notification,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=NOTIFY_RETRY,
            )
        )

"""SupportCaseWorkflow: one support case, from request to closed.

The workflow decides *when*: it sleeps until the first item of the case's agenda (a pure function
of the case) or until a handler changes the case, then handles what is due. `support/` decides
*what*: deadlines, pauses, downgrades, obligations. Everything the case learns from outside comes
from activity results, updates or signals, so a replay takes exactly the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.archive import ArchiveActivities
    from activities.case_context import CaseContext, CaseContextActivities, ContextRequest
    from activities.delivery import DeliveryActivities
    from activities.verification import VERIFICATION_LOCKED, CodeRequest, VerificationActivities
    from support.actions import (
        Cooperation,
        CustomerActionRequest,
        CustomerUpdate,
        FirstResponse,
        ReopenRequest,
        Resolution,
        SeverityChangeRequest,
        SurveyAnswer,
    )
    from support.agenda import Wake, WakeUp, agenda, case_done
    from support.calendar import Calendar
    from support.case_terms import case_terms
    from support.case_view import (
        CaseView,
        ClockPause,
        IncidentLink,
        Refusal,
        SeverityChange,
        Survey,
        SurveyOutcome,
        VerificationView,
    )
    from support.clocks import (
        ClockName,
        SlaClock,
        answer_clock,
        checkpoint_event,
        next_cycle,
        pause_clock,
        reach_checkpoint,
        resume_clock,
        retarget_clock,
        start_clock,
        stop_clock,
        superseded,
    )
    from support.cooperation import (
        MAX_OPEN_REQUESTS,
        CustomerRequest,
        RequestKind,
        RequestState,
        after_severity_change,
        new_request,
        obligations_at,
        one_lower,
        open_engineer_requests,
        waiting_on_customer,
        waive_all,
    )
    from support.display import local_time
    from support.durations import format_duration
    from support.eligibility import check_eligibility
    from support.entitlement import calendar_name, case_calendar, decide_severity
    from support.excerpt import excerpt
    from support.notifications import (
        Audience,
        FailedNotification,
        Notification,
        notification_id,
        template_for,
        urgency,
    )
    from support.policy import Policy
    from support.request import CaseRequest
    from support.tenant import TenantFacts
    from support.verification import (
        IssuedCode,
        SealedAttempt,
        VerificationResult,
        attempt_matches,
        can_check,
    )
    from support.vocabulary import CaseStatus, Channel, ContactMethod, Severity
    from workflows import search_attributes as sa


# Patch ids: each guards a change of what a case does, so cases started before it replay.
SUPERSEDED_WARNINGS_PATCH = "superseded-sla-warnings-not-sent"
DRAIN_STARTED_DURING_WAIT_PATCH = "deliveries-started-while-draining-awaited"


class CarriedCase(BaseModel):
    """Everything a case needs to go on in a new run after continue-as-new."""

    case: CaseView
    policy: Policy
    tenant: TenantFacts


class CaseStart(BaseModel):
    """Workflow input: the request, and the carried state when the case continued as new."""

    request: CaseRequest
    carried: CarriedCase | None = None


CONTEXT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class SupportCaseWorkflow:
    @workflow.init
    def __init__(self, start: CaseStart) -> None:
        self._request = start.request
        self._deliveries: list[asyncio.Task[None]] = []
        self._changed = False
        self._policy: Policy | None = None
        self._tenant: TenantFacts | None = None
        self._calendar: Calendar | None = None
        self._issued: IssuedCode | None = None
        self._moving = False  # settling before continue-as-new: engineers' actions wait for the new run
        if start.carried is None:
            self._view = CaseView.for_request(start.request, workflow.now(), workflow.info().workflow_id)
        else:
            self._view = start.carried.case
            self._adopt(start.carried.policy, start.carried.tenant)

    # -- the case, step by step ---------------------------------------------------------------

    @workflow.run
    async def run(self, start: CaseStart) -> CaseView:
        if start.carried is None:
            request = self._request
            context = await workflow.execute_activity_method(
                CaseContextActivities.load_case_context,
                ContextRequest(
                    tenant_id=request.tenant_id,
                    requester=request.requester,
                    opened_at=self._view.created_at,
                    caller_number=request.caller_number if request.channel is Channel.PHONE else None,
                    service=request.service,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=CONTEXT_RETRY,
            )
            self._policy, self._tenant = context.policy, context.tenant
            refusal = check_eligibility(request, context.tenant, context.requester_is_admin)
            if refusal is not None:
                self._refuse(refusal)
                return await self._finish()
            if context.caller_registered is False and not await self._verify_caller(context):
                return await self._finish()
            self._open(context)
        else:
            workflow.logger.info("case continued as new", extra={"status": self._view.status.value})

        while not case_done(self._view):
            if self._history_is_long():
                await self._continue_as_new()
            upcoming = agenda(self._view, self.calendar, self.policy)
            self._changed = False
            if upcoming:
                await self._wait_until(lambda: self._changed, upcoming[0].at)
            else:
                await workflow.wait_condition(lambda: self._changed)
            self._handle_due(workflow.now())
        return await self._finish()

    def _adopt(self, policy: Policy, tenant: TenantFacts) -> None:
        self._policy = policy
        self._tenant = tenant
        if self._view.severity is not None:
            self._calendar = case_calendar(policy, self._view.category, self._view.severity, tenant.time_zone)

    @property
    def policy(self) -> Policy:
        assert self._policy is not None, "the case has no policy before it is opened"
        return self._policy

    @property
    def tenant(self) -> TenantFacts:
        assert self._tenant is not None
        return self._tenant

    @property
    def calendar(self) -> Calendar:
        assert self._calendar is not None
        return self._calendar

    def _refuse(self, refusal: Refusal) -> None:
        now = workflow.now()
        self._view.status = CaseStatus.REFUSED
        self._view.refusal = refusal
        self._view.record(now, f"refused_{refusal.code}", refusal.message)
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.REFUSED.value))
        self._notify("refused", {"reason_code": refusal.code, "reason": refusal.message})
        workflow.logger.info("case refused", extra={"reason_code": refusal.code})

    async def _verify_caller(self, context: CaseContext) -> bool:
        """Phone intake from an unregistered number: a one-time code to a registered contact."""
        assert context.tenant is not None
        self._adopt(context.policy, context.tenant)
        rule, view = context.policy.verification, self._view
        try:
            self._issued = await workflow.execute_activity_method(
                VerificationActivities.send_verification_code,
                CodeRequest(
                    case_id=view.case_id,
                    tenant_id=context.tenant.tenant_id,
                    language=self._request.language,
                    caller_number=self._request.caller_number,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    maximum_attempts=5, non_retryable_error_types=["NoRegisteredContact"]
                ),
            )
        except ActivityError as error:
            if isinstance(error.cause, ApplicationError) and error.cause.type == VERIFICATION_LOCKED:
                self._refuse(
                    Refusal(
                        code="verification_locked",
                        message="Too many wrong codes from this number; the case was not opened "
                        f"({error.cause.message}). Please call from a number registered for your "
                        "organisation, or open the case in the web portal.",
                    )
                )
                return False
            reason = error.cause.message if isinstance(error.cause, ApplicationError) else str(error)
            self._refuse(
                Refusal(
                    code="verification_unavailable",
                    message=f"We could not send a verification code ({reason}). Please call from a number "
                    "registered for your organisation, or open the case in the web portal.",
                )
            )
            return False
        now = workflow.now()
        view.verification = VerificationView(
            sent_to=self._issued.sent_to,
            issued_at=now,
            expires_at=now + rule.expires_after,
            max_attempts=rule.max_attempts,
        )
        view.status = CaseStatus.AWAITING_VERIFICATION
        view.record(
            now,
            "verification_sent",
            f"caller's number is not registered; one-time code sent to {self._issued.sent_to}",
        )
        self._upsert(sa.CASE_STATUS.value_set(view.status.value))
        verification = view.verification
        await self._wait_until(lambda: verification.outcome != "pending", verification.expires_at)
        if verification.outcome == "verified":
            return True
        if verification.outcome == "pending":
            verification.outcome = "expired"
            self._refuse(
                Refusal(
                    code="verification_expired",
                    message="The one-time code was not confirmed in time; the case was not opened. "
                    "Please call again.",
                )
            )
        else:
            self._refuse(
                Refusal(
                    code="verification_locked",
                    message="Too many wrong codes; the case was not opened. Please call again from a "
                    "registered number or open the case in the web portal.",
                )
            )
        return False

    def _open(self, context: CaseContext) -> None:
        assert context.tenant is not None
        request, now = self._request, workflow.now()
        terms = case_terms(
            context.policy,
            request.category,
            request.severity,
            context.tenant.agreement,
            context.tenant.time_zone,
            now,
        )
        severity, plan = terms.decision.granted, terms.first_response
        view = self._view
        view.tenant_name = context.tenant.name
        view.policy_version = context.policy.version
        view.severity = severity
        view.calendar = terms.calendar_name
        view.time_zone = terms.calendar.time_zone
        view.opened_at = now
        self._adopt(context.policy, context.tenant)
        view.first_response = start_clock(
            ClockName.FIRST_RESPONSE, self.calendar, plan.target, now, self.policy.sla.warn_at
        )
        reason = "; ".join(cap.message for cap in terms.decision.caps) or "as requested"
        view.severity_history.append(
            SeverityChange(at=now, severity=severity, previous=None, actor="system", reason=reason)
        )
        for cap in terms.decision.caps:
            view.record(now, "severity_capped", f"{cap.code}: {cap.message}")
        view.record(
            now,
            "opened",
            f"opened at severity {severity.value} on the {view.calendar} calendar; first response due "
            f"{local_time(plan.due, self.calendar.time_zone)} ({plan.target} of business time)",
        )
        if context.incident is not None:
            incident = context.incident
            view.incident = IncidentLink(
                incident_id=incident.incident_id, service=incident.service, title=incident.title
            )
            view.record(
                now, "incident_linked", f"linked to active incident {incident.incident_id}: {incident.title}"
            )
            self._upsert(sa.INCIDENT_ID.value_set(incident.incident_id))
        view.customer_requests = obligations_at(self.policy, severity, self.calendar, now)
        if view.customer_requests:
            view.record(now, "obligations_requested", self._obligations_text())
        view.status = CaseStatus.AWAITING_FIRST_RESPONSE
        self._upsert(
            sa.CASE_STATUS.value_set(view.status.value),
            sa.CASE_SEVERITY.value_set(severity.value),
            sa.FIRST_RESPONSE_DUE.value_set(plan.due),
        )
        facts = {
            "requested_severity": request.severity.value,
            "severity_reason": reason,
            "expected_wait_seconds": str(int(max(plan.due - now, timedelta(0)).total_seconds())),
            "support_open_now": "yes" if self.calendar.is_open(now) else "no",
            "obligations": self._obligations_text(),
        }
        if view.incident is not None:
            facts |= {"incident_id": view.incident.incident_id, "incident_title": view.incident.title}
        times = {"support_opens_at": self.calendar.next_open(now)}
        self._notify("acknowledged", facts, times)
        self._notify("new_case", facts | {"calendar": terms.calendar_name}, times)
        self._count(
            "casework_cases_opened", "cases opened", severity=severity.value, category=view.category.value
        )
        workflow.logger.info(
            "case opened",
            extra={
                "severity": severity.value,
                "due": plan.due.isoformat(),
                "capped": bool(terms.decision.caps),
            },
        )

    # -- what happens when time passes ----------------------------------------------------------

    def _handle_due(self, now: datetime) -> None:
        """Handle every wake-up that is due, one at a time: each may change what comes next."""
        while True:
            due = [w for w in agenda(self._view, self.calendar, self.policy) if w.at <= now]
            if not due:
                return
            self._handle(due[0], now)

    def _handle(self, wake: WakeUp, now: datetime) -> None:
        view = self._view
        if wake.kind is Wake.CLOCK_CHECKPOINT:
            self._checkpoint_reached(ClockName(wake.ref), now)
        elif wake.kind is Wake.COOPERATION_REMINDER:
            request = self._customer_request(wake.ref)
            request.reminders_sent += 1
            view.cooperation_reminders_sent += 1  # the timeline is trimmed: never count its entries
            view.record(
                now,
                "cooperation_reminder",
                f"reminded the customer: {excerpt(request.what)} (due {request.due})",
            )
            self._notify(
                f"cooperation_reminder_{request.request_id}",
                {"what": request.what},
                {"due": request.due},
                sequence=view.cooperation_reminders_sent,
            )
        elif wake.kind is Wake.COOPERATION_DUE:
            request = self._customer_request(wake.ref)
            assert view.severity is not None
            lower = one_lower(view.severity)
            why = f"the customer did not provide {request.what} in time (due {request.due.isoformat()})"
            if lower is None:
                self._close_unresponsive(why, now)
            else:
                self._change_severity(lower, "system", f"downgraded: {why}", now, downgrade=True)
        elif wake.kind is Wake.IDLE_FOLLOW_UP:
            view.follow_ups_sent += 1
            view.last_activity_at = now
            view.record(now, "follow_up", f"no activity for a while; reminded {view.assigned_engineer}")
            self._notify(
                "follow_up", {"engineer": str(view.assigned_engineer)}, sequence=view.follow_ups_sent
            )
        elif wake.kind is Wake.REOPEN_WINDOW_END:
            self._close(now)
        elif wake.kind is Wake.SURVEY_REMINDER:
            assert view.survey is not None
            view.survey.reminded_at = now
            view.record(now, "survey_reminder", "reminded the customer of the satisfaction survey")
            self._notify("survey_reminder")
        elif wake.kind is Wake.SURVEY_TIMEOUT:
            assert view.survey is not None
            view.survey.outcome = SurveyOutcome.NO_ANSWER
            view.record(now, "survey_expired", "no survey answer; stopped waiting")

    def _checkpoint_reached(self, name: ClockName, now: datetime) -> None:
        clock = self._clock(name)
        checkpoint = clock.checkpoints[0]
        # Cases that handled late warnings before this rule sent them all: their replay must too.
        quiet = superseded(clock, checkpoint, now) and workflow.patched(SUPERSEDED_WARNINGS_PATCH)
        clock = reach_checkpoint(clock, checkpoint, now, told=not quiet)
        self._set_clock(clock)
        event = checkpoint_event(clock, checkpoint)
        facts = {"clock": name.value, "percent": str(round(checkpoint.fraction * 100))}
        times = {"due": clock.due} if clock.due is not None else {}
        what = "first response" if name is ClockName.FIRST_RESPONSE else "customer update"
        late = now - checkpoint.at
        lateness = ""
        if late > self.policy.sla.report_late_after:
            # Timers due while the service was down fire when it is back: said, never hidden.
            lateness = f" (acted on {format_duration(late)} after its time {checkpoint.at.isoformat()})"
            facts["late_by_seconds"] = str(int(late.total_seconds()))
            workflow.logger.warning(
                "timer handled late", extra={"timer": event, "late_seconds": int(late.total_seconds())}
            )
        if checkpoint.is_breach:
            self._view.sla_breached = True
            self._view.record(now, event, f"{what} deadline passed; escalated to the duty manager{lateness}")
            self._upsert(sa.SLA_BREACHED.value_set(True))
            self._notify(event, facts, times, sequence=clock.cycle)
            workflow.logger.warning("SLA breached", extra={"clock": name.value, "cycle": clock.cycle})
            self._count("casework_sla_breaches", "SLA clocks that ran out", clock=name.value)
        elif quiet:
            percent = round(checkpoint.fraction * 100)
            self._view.record(
                now,
                event,
                f"{percent}% of the {what} business time used{lateness}; not sent: a later point "
                "of this clock was already due",
            )
            self._count(
                "casework_sla_warnings_superseded",
                "SLA warnings not sent: a later point was due",
                clock=name.value,
                percent=str(percent),
            )
        else:
            percent = round(checkpoint.fraction * 100)
            self._view.record(now, event, f"{percent}% of the {what} business time used{lateness}")
            self._count("casework_sla_warnings", "SLA warnings", clock=name.value, percent=str(percent))
            self._notify(event, facts, times, sequence=clock.cycle)

    def _change_severity(
        self, severity: Severity, actor: str, reason: str, now: datetime, downgrade: bool
    ) -> None:
        """Re-plan every clock on the new severity's calendar from its own start, pauses kept."""
        view, policy = self._view, self.policy
        previous = view.severity
        self._calendar = case_calendar(policy, view.category, severity, self.tenant.time_zone)
        view.severity = severity
        view.calendar = calendar_name(policy, view.category, severity)
        view.time_zone = self.calendar.time_zone
        view.severity_history.append(
            SeverityChange(at=now, severity=severity, previous=previous, actor=actor, reason=excerpt(reason))
        )
        view.severity_changes += 1
        rule, warn_at = policy.severities[severity], policy.sla.warn_at
        if view.first_response is not None:
            view.first_response = retarget_clock(
                view.first_response, self.calendar, rule.first_response, warn_at, now
            )
        if view.customer_update is not None:
            view.customer_update = retarget_clock(
                view.customer_update, self.calendar, rule.customer_update, warn_at, now
            )
        view.customer_requests = after_severity_change(
            view.customer_requests, policy, severity, self.calendar, now
        )
        kind = "downgraded" if downgrade else "severity_changed"
        view.record(now, kind, f"severity {previous} -> {severity.value}: {excerpt(reason)}", actor=actor)
        updates: list[SearchAttributeUpdate[Any]] = [sa.CASE_SEVERITY.value_set(severity.value)]
        if view.first_response is not None and view.first_response.due is not None:
            updates.append(sa.FIRST_RESPONSE_DUE.value_set(view.first_response.due))
        self._upsert(*updates)
        facts = {"previous_severity": str(previous), "reason": reason}
        self._notify(kind, facts, sequence=view.severity_changes)
        workflow.logger.info("severity changed", extra={"severity": severity.value, "downgrade": downgrade})
        if downgrade:
            self._count("casework_downgrades", "downgrades for lack of cooperation", to=severity.value)

    def _close(self, now: datetime) -> None:
        view, survey = self._view, self.policy.survey
        view.status = CaseStatus.CLOSED
        view.closed_at = now
        view.reopen_until = None
        view.survey = Survey(
            sent_at=now,
            reminder_at=now + survey.reminder_after if survey.reminder_after is not None else None,
            expires_at=now + survey.wait,
        )
        view.record(now, "closed", "closed after the reopen window; satisfaction survey sent")
        self._count("casework_surveys_sent", "satisfaction surveys sent", severity=str(view.severity))
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.CLOSED.value))
        self._notify("survey")

    def _close_unresponsive(self, why: str, now: datetime) -> None:
        view = self._view
        view.status = CaseStatus.CLOSED_UNRESPONSIVE
        view.closed_at = now
        view.customer_requests = waive_all(view.customer_requests)
        self._stop_clocks(now)
        view.record(now, "closed_unresponsive", f"closed: {excerpt(why)}")
        self._upsert(sa.CASE_STATUS.value_set(view.status.value))
        self._notify("closed_unresponsive", {"reason": why})

    async def _finish(self) -> CaseView:
        """Every notification delivered (or its failure recorded), the record archived, handlers done."""
        await self._settle()
        await workflow.execute_activity_method(
            ArchiveActivities.archive_case,
            self._view,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=CONTEXT_RETRY,
        )
        return self._view

    async def _drain_deliveries(self) -> None:
        """Wait for every delivery in flight (each records its own failure), including the ones a
        handler starts meanwhile: forgetting those lost their notifications when a burst of updates
        met a continue-as-new (cases before the patch replay the old way)."""
        while self._deliveries:
            pending = list(self._deliveries)  # handlers append to self._deliveries meanwhile
            await asyncio.gather(*pending)
            if not workflow.patched(DRAIN_STARTED_DURING_WAIT_PATCH):
                self._deliveries = []
                return
            self._deliveries = [d for d in self._deliveries if d not in pending]

    def _history_is_long(self) -> bool:
        info = workflow.info()
        limit = self.policy.history.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= limit

    async def _settle(self) -> None:
        """Until, at one instant, every handler has finished and every delivery is done.

        A handler that runs while deliveries drain can start a new delivery; returning or
        continuing as new before it is done would abandon that notification.
        """
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._deliveries:
                return
            await self._drain_deliveries()

    async def _continue_as_new(self) -> None:
        self._moving = True
        await self._settle()
        self._view.keep_bounded()  # already so after every change; the input must be, whatever happened
        workflow.continue_as_new(
            CaseStart(
                request=self._request,
                carried=CarriedCase(case=self._view, policy=self.policy, tenant=self.tenant),
            )
        )

    # -- agent actions (updates), customer events (signals) and the view (query) ---------------

    @workflow.query
    def view(self) -> CaseView:
        return self._view

    @workflow.update
    async def decided(self) -> CaseView:
        """The case once it is decided (accepted, awaiting verification, or refused): the intake
        answers the caller with it as soon as it is, instead of polling the view."""
        await workflow.wait_condition(lambda: self._view.status is not CaseStatus.NEW)
        return self._view

    @workflow.update
    def verify(self, attempt: SealedAttempt) -> VerificationResult:
        """The caller's code, sealed by the intake (its MAC under the server-side key): the case
        compares MACs and never sees the code. Histories from before sealing carry the code."""
        now, view = workflow.now(), self._view
        verification = view.verification
        assert verification is not None and self._issued is not None
        if now >= verification.expires_at:
            return VerificationResult(
                verified=False, status="expired", remaining_attempts=0, message="the code has expired"
            )
        verification.attempts_used += 1
        remaining = verification.max_attempts - verification.attempts_used
        if attempt_matches(attempt, self._issued):
            verification.outcome = "verified"
            view.record(now, "caller_verified", "one-time code confirmed")
            return VerificationResult(
                verified=True, status="verified", remaining_attempts=remaining, message="verified"
            )
        if remaining <= 0:
            verification.outcome = "locked"
            view.record(now, "verification_locked", "too many wrong codes")
            return VerificationResult(
                verified=False, status="locked", remaining_attempts=0, message="too many wrong codes; locked"
            )
        view.record(now, "verification_failed", f"wrong code; {remaining} attempts left")
        return VerificationResult(
            verified=False,
            status="pending",
            remaining_attempts=remaining,
            message=f"wrong code; {remaining} attempts left",
        )

    @verify.validator
    def _check_verify(self, attempt: SealedAttempt) -> None:
        status = self._view.status
        if status is not CaseStatus.AWAITING_VERIFICATION:
            raise ValueError(f"no verification is pending for this case (it is {status.value})")
        if self._issued is not None and not can_check(attempt, self._issued):
            raise ValueError(
                "the code must be sealed by the intake (code_mac), never sent in clear"
                if self._issued.sealed
                else "this code was issued before an upgrade and cannot be checked; please call again"
            )

    @workflow.update
    def respond(self, action: FirstResponse) -> CaseView:
        self._record_first_response(action.engineer, action.message)
        return self._view

    @respond.validator
    def _check_respond(self, action: FirstResponse) -> None:
        self._require_open("respond")
        clock = self._clock(ClockName.FIRST_RESPONSE)
        if clock.answered_at is not None:
            raise ValueError(
                f"the first response was already given by {clock.answered_by} at {clock.answered_at}"
            )

    @workflow.update
    def update_customer(self, action: CustomerUpdate) -> CaseView:
        now, view = workflow.now(), self._view
        clock = answer_clock(self._clock(ClockName.CUSTOMER_UPDATE), self.calendar, now, action.engineer)
        view.customer_update = next_cycle(
            clock,
            self.calendar,
            now,
            self.policy.sla.warn_at,
            paused=waiting_on_customer(view.customer_requests),
        )
        view.record(
            now,
            "customer_updated",
            f"customer update ({clock.state.value}): {excerpt(action.message)}",
            action.engineer,
        )
        self._touch(now, action.engineer)
        self._notify(
            "customer_update", {"engineer": action.engineer, "message": action.message}, sequence=clock.cycle
        )
        return view

    @update_customer.validator
    def _check_update_customer(self, action: CustomerUpdate) -> None:
        self._require_status(CaseStatus.IN_PROGRESS, "update the customer", "give the first response first")

    @workflow.update
    def request_customer_action(self, action: CustomerActionRequest) -> CaseView:
        now, view = workflow.now(), self._view
        assert view.severity is not None
        view.engineer_requests += 1  # answered requests leave the list: never number from its length
        number = view.engineer_requests
        request = new_request(
            self.policy,
            view.severity,
            self.calendar,
            now,
            request_id=f"request-{number}",
            kind=RequestKind.ENGINEER,
            what=action.what,
            requested_by=action.engineer,
            pauses_clock=action.pauses_clock,
        )
        view.customer_requests.append(request)
        what = excerpt(action.what)
        view.record(now, "customer_action_requested", f"{request.request_id}: {what}", action.engineer)
        self._sync_pause(now, action.engineer, f"waiting for the customer: {what}")
        self._touch(now, action.engineer)
        self._notify(
            "customer_action_requested",
            {"request_id": request.request_id, "what": action.what},
            {"due": request.due},
            sequence=number,
        )
        return view

    @request_customer_action.validator
    def _check_request_customer_action(self, action: CustomerActionRequest) -> None:
        self._require_status(CaseStatus.IN_PROGRESS, "ask the customer", "give the first response first")
        if open_engineer_requests(self._view.customer_requests) >= MAX_OPEN_REQUESTS:
            raise ValueError(
                f"cannot ask the customer: {MAX_OPEN_REQUESTS} requests are already waiting for their "
                "answer; wait for one, or resolve the case"
            )

    @workflow.update
    def change_severity(self, change: SeverityChangeRequest) -> CaseView:
        now = workflow.now()
        self._change_severity(change.severity, change.engineer, change.reason, now, downgrade=False)
        self._touch(now, None)
        return self._view

    @change_severity.validator
    def _check_change_severity(self, change: SeverityChangeRequest) -> None:
        self._require_open("change the severity")
        if change.severity == self._view.severity:
            raise ValueError(f"the case is already severity {change.severity.value}")
        decision = decide_severity(self.policy, self._view.category, change.severity, self.tenant.agreement)
        if decision.granted != change.severity:
            reasons = "; ".join(cap.message for cap in decision.caps)
            raise ValueError(f"cannot change to severity {change.severity.value}: {reasons}")

    @workflow.update
    def resolve(self, action: Resolution) -> CaseView:
        now, view = workflow.now(), self._view
        if self._clock(ClockName.FIRST_RESPONSE).answered_at is None:
            self._record_first_response(action.engineer, action.summary)
        view.status = CaseStatus.RESOLVED
        view.resolved_at = now
        view.resolved_by = action.engineer
        view.resolution_summary = excerpt(action.summary)
        view.reopen_until = now + self.policy.resolution.reopen_window
        view.customer_requests = waive_all(view.customer_requests)
        self._stop_clocks(now)
        view.record(now, "resolved", f"resolved: {view.resolution_summary}", actor=action.engineer)
        self._count(
            "casework_cases_resolved",
            "cases resolved",
            severity=str(view.severity),
            category=view.category.value,
        )
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.RESOLVED.value))
        self._notify(
            "resolved",
            {"summary": action.summary},
            {"reopen_until": view.reopen_until},
            sequence=view.reopened_count,
        )
        self._changed = True
        return view

    @resolve.validator
    def _check_resolve(self, action: Resolution) -> None:
        self._require_open("resolve")

    @workflow.update
    def reopen(self, action: ReopenRequest) -> CaseView:
        now, view = workflow.now(), self._view
        view.status = CaseStatus.IN_PROGRESS
        view.reopened_count += 1
        view.reopen_until = None
        if view.customer_update is not None:
            view.customer_update = next_cycle(
                view.customer_update, self.calendar, now, self.policy.sla.warn_at, paused=False
            )
        view.record(now, "reopened", f"reopened: {excerpt(action.reason)}", actor="customer")
        self._touch(now, None)
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.IN_PROGRESS.value))
        self._notify("reopened", {"reason": action.reason}, sequence=view.reopened_count)
        return view

    @reopen.validator
    def _check_reopen(self, action: ReopenRequest) -> None:
        view = self._view
        if view.status is not CaseStatus.RESOLVED or view.reopen_until is None:
            raise ValueError(f"only a resolved case can be reopened; this case is {view.status.value}")
        if workflow.now() >= view.reopen_until:
            raise ValueError(f"the reopen window ended at {view.reopen_until.isoformat()}")

    @workflow.signal
    async def cooperate(self, answer: Cooperation) -> None:
        await workflow.wait_condition(lambda: self._view.status is not CaseStatus.NEW)
        now, view = workflow.now(), self._view
        request = next(
            (r for r in view.customer_requests if r.request_id == answer.request_id and r.outstanding), None
        )
        if request is None:
            view.record(
                now, "cooperation_unmatched", f"customer sent {answer.request_id!r}, which is not outstanding"
            )
            return
        request.state = RequestState.ANSWERED
        request.answered_at = now
        request.answer = excerpt(answer.details)  # in full: in the notification and the history
        view.record(
            now,
            "customer_cooperated",
            f"{request.request_id}: {excerpt(request.what)} received",
            actor="customer",
        )
        self._sync_pause(now, "customer", "the customer answered")
        self._touch(now, None)
        self._notify("customer_cooperated", {"request_id": request.request_id, "details": answer.details})

    @workflow.signal
    def survey(self, answer: SurveyAnswer) -> None:
        now, view = workflow.now(), self._view
        if view.survey is None or view.survey.outcome is not SurveyOutcome.PENDING:
            view.record(now, "survey_ignored", "a survey answer arrived when no survey was open")
            return
        view.survey.outcome = SurveyOutcome.ANSWERED
        view.survey.answered_at = now
        view.survey.score = answer.score
        view.survey.comment = excerpt(answer.comment)
        view.record(now, "survey_answered", f"satisfaction {answer.score}/5", actor="customer")
        self._count("casework_surveys_answered", "surveys answered, by score", score=str(answer.score))
        self._changed = True

    # -- helpers ---------------------------------------------------------------------------------

    def _record_first_response(self, engineer: str, message: str) -> None:
        now, view = workflow.now(), self._view
        clock = answer_clock(self._clock(ClockName.FIRST_RESPONSE), self.calendar, now, engineer)
        view.first_response = clock
        if clock.breached_at is not None and not view.sla_breached:
            view.sla_breached = True  # answered late in the same instant the breach came due
            self._upsert(sa.SLA_BREACHED.value_set(True))
        view.status = CaseStatus.IN_PROGRESS
        view.assigned_engineer = engineer
        assert view.severity is not None
        view.customer_update = start_clock(
            ClockName.CUSTOMER_UPDATE,
            self.calendar,
            self.policy.severities[view.severity].customer_update,
            now,
            self.policy.sla.warn_at,
        )
        view.record(
            now, "first_response", f"first response ({clock.state.value}): {excerpt(message)}", actor=engineer
        )
        severity = view.severity.value
        self._count(
            "casework_first_response_sla",
            "first responses by SLA result",
            result=clock.state.value,
            severity=severity,
        )
        if view.opened_at is not None and clock.business_time_to_answer is not None:
            wall = (now - view.opened_at).total_seconds()
            business = clock.business_time_to_answer.total_seconds()
            self._observe(
                "casework_time_to_first_response",
                "wall-clock time to first response",
                wall,
                severity=severity,
            )
            self._observe(
                "casework_business_time_to_first_response",
                "business time to first response",
                business,
                severity=severity,
            )
        self._notify("first_response", {"engineer": engineer, "message": message})
        self._touch(now, engineer)
        self._upsert(sa.CASE_STATUS.value_set(CaseStatus.IN_PROGRESS.value))

    def _sync_pause(self, now: datetime, actor: str, reason: str) -> None:
        """Pause the update clock while a pausing request is outstanding; resume when none is."""
        view = self._view
        clock = view.customer_update
        if clock is None:
            return
        waiting = waiting_on_customer(view.customer_requests)
        if waiting and clock.running:
            view.customer_update = pause_clock(clock, now)
            view.pauses.append(ClockPause(paused_at=now, paused_by=actor, reason=reason))
            view.record(now, "clock_paused", f"customer-update clock paused: {reason}", actor=actor)
        elif not waiting and not clock.running and view.status is CaseStatus.IN_PROGRESS:
            view.customer_update = resume_clock(clock, self.calendar, now, self.policy.sla.warn_at)
            if view.pauses and view.pauses[-1].resumed_at is None:
                view.pauses[-1].resumed_at = now
                view.pauses[-1].resumed_by = actor
            view.record(now, "clock_resumed", f"customer-update clock resumed: {reason}", actor=actor)

    def _stop_clocks(self, now: datetime) -> None:
        view = self._view
        if view.first_response is not None and view.first_response.answered_at is None:
            view.first_response = stop_clock(view.first_response, now)
        if view.customer_update is not None:
            view.customer_update = stop_clock(view.customer_update, now)
        if view.pauses and view.pauses[-1].resumed_at is None:
            view.pauses[-1].resumed_at = now
            view.pauses[-1].resumed_by = "system"

    def _touch(self, now: datetime, engineer: str | None) -> None:
        """Activity on the case: resets the idle follow-up and wakes the main loop."""
        self._view.last_activity_at = now
        if engineer is not None:
            self._view.assigned_engineer = self._view.assigned_engineer or engineer
        self._changed = True

    def _require_open(self, action: str) -> None:
        if self._moving:
            # Accepted now, it would start a delivery the continue-as-new must wait for: a steady
            # stream of actions would keep the case from ever continuing as new.
            raise ValueError(
                f"cannot {action} right now: the case is moving to a new run (its history is long); "
                "send it again in a moment"
            )
        status = self._view.status
        if status is CaseStatus.NEW:
            raise ValueError(f"cannot {action}: the case is still being opened; try again in a moment")
        if not status.is_open:
            raise ValueError(f"cannot {action}: the case is {status.value}")

    def _require_status(self, status: CaseStatus, action: str, hint: str) -> None:
        self._require_open(action)
        if self._view.status is not status:
            raise ValueError(f"cannot {action}: the case is {self._view.status.value}; {hint}")

    def _clock(self, name: ClockName) -> SlaClock:
        clock = self._view.first_response if name is ClockName.FIRST_RESPONSE else self._view.customer_update
        assert clock is not None
        return clock

    def _set_clock(self, clock: SlaClock) -> None:
        if clock.name is ClockName.FIRST_RESPONSE:
            self._view.first_response = clock
        else:
            self._view.customer_update = clock

    def _customer_request(self, request_id: str) -> CustomerRequest:
        return next(r for r in self._view.customer_requests if r.request_id == request_id)

    def _obligations_text(self) -> str:
        return "; ".join(
            f"{r.what} by {local_time(r.due, self.tenant.time_zone)}"
            for r in self._view.customer_requests
            if r.kind is RequestKind.OBLIGATION and r.outstanding
        )

    def _facts(self) -> tuple[dict[str, str], dict[str, datetime]]:
        """What every message may mention: facts as text, instants to show in the reader's zone."""
        view = self._view
        facts = {
            "case_id": view.case_id,
            "severity": str(view.severity or view.requested_severity),
            "title": view.title,
            "category": view.category.value,
            "tenant_name": view.tenant_name or view.tenant_id,
        }
        times: dict[str, datetime] = {}
        if view.first_response is not None and view.first_response.due is not None:
            times["first_response_due"] = view.first_response.due
        return facts, times

    async def _wait_until(self, condition: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `condition` or the absolute `deadline`; True when the condition holds."""
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(condition, timeout=remaining)
        return condition()

    def _count(self, name: str, description: str, **labels: str) -> None:
        """casework's own metrics, through the SDK's meter: never emitted again on replay."""
        workflow.metric_meter().create_counter(name, description).add(1, labels)

    def _observe(self, name: str, description: str, seconds: float, **labels: str) -> None:
        workflow.metric_meter().create_histogram_float(name, description, "s").record(seconds, labels)

    def _upsert(self, *updates: SearchAttributeUpdate[Any]) -> None:
        workflow.upsert_search_attributes(list(updates))

    def _notify(
        self,
        event: str,
        facts: dict[str, str] | None = None,
        times: dict[str, datetime] | None = None,
        sequence: int = 0,
    ) -> None:
        """Tell everyone the policy routes this event to; each delivery runs beside the case's timers."""
        template = template_for(event)
        common_facts, common_times = self._facts()
        for audience in self.policy.routing.audiences(template, self._view.severity):
            notification = self._notification(
                event,
                template,
                audience,
                common_facts | (facts or {}),
                common_times | (times or {}),
                sequence,
            )
            if notification is not None:
                self._deliveries.append(asyncio.create_task(self._deliver(notification)))

    def _notification(
        self,
        event: str,
        template: str,
        audience: Audience,
        facts: dict[str, str],
        times: dict[str, datetime],
        sequence: int,
    ) -> Notification | None:
        request, routing = self._request, self.policy.routing
        customer_zone = self._tenant.time_zone if self._tenant else routing.support_time_zone
        fields: dict[str, Any] = {
            "language": routing.support_language,
            "time_zone": routing.support_time_zone,
        }
        if audience is Audience.CUSTOMER:
            fields = {
                "language": request.language,
                "time_zone": customer_zone,
                "to_email": request.contact_email,
                "to_phone": request.contact_phone,
                "prefer_phone": request.preferred_contact is ContactMethod.PHONE,
            }
        elif audience is Audience.REQUESTER:
            if "@" not in request.requester or request.requester.lower() == request.contact_email.lower():
                return None  # the requester is the contact, or has no address: told once, as the customer
            fields = {"language": request.language, "time_zone": customer_zone, "to_email": request.requester}
        elif audience is Audience.ACCOUNT_MANAGER:
            if self._tenant is None or self._tenant.account_manager_email is None:
                return None
            fields |= {"to_email": self._tenant.account_manager_email}
        elif audience is Audience.ENGINEER:
            fields |= {"engineer": self._view.assigned_engineer}
        return Notification(
            notification_id=notification_id(self._view.case_id, event, sequence, audience),
            case_id=self._view.case_id,
            event=event,
            template=template,
            audience=audience,
            facts=facts,
            times=times,
            **fields,
        )

    async def _deliver(self, notification: Notification) -> None:
        """Deliver with retries for as long as the policy allows; a failure is shown and alerted."""
        rule = self.policy.delivery
        try:
            await workflow.execute_activity_method(
                DeliveryActivities.deliver_notification,
                notification,
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
                reason = cause.message
            else:
                reason = f"not delivered within {rule.retry_for} of retries"
            reason = excerpt(reason)  # a server's error text, kept short in the case
            now = workflow.now()
            self._view.failed_notifications.append(
                FailedNotification(
                    notification_id=notification.notification_id,
                    event=notification.event,
                    audience=notification.audience,
                    reason=reason,
                    at=now,
                )
            )
            self._view.record(
                now, "notification_failed", f"{notification.event} to {notification.audience.value}: {reason}"
            )
            workflow.logger.error(
                "notification permanently failed",
                extra={
                    "notification_id": notification.notification_id,
                    "audience": notification.audience.value,
                },
            )
            workflow.metric_meter().create_counter(
                "casework_notifications_failed", "notifications that could not be delivered on any route"
            ).add(1, {"event": notification.template, "audience": notification.audience.value})
            self._changed = True

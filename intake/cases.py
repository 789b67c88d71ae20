"""The one code path that opens, reads and drives cases (used by the CLI, later by the HTTP API)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

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
from support.case_view import CaseView
from support.request import CaseRequest
from support.verification import VerificationAttempt, VerificationResult
from support.vocabulary import CaseStatus, Category, Severity
from workflows import search_attributes as sa
from workflows.support_case import CaseStart, SupportCaseWorkflow


class CaseNotFound(LookupError):
    pass


class ActionRejected(ValueError):
    """The case refused an agent action; the message is the workflow validator's reason."""


class Unavailable(RuntimeError):
    """Temporal or the workers did not answer in time."""


class OpenedCase(BaseModel):
    created: bool
    case: CaseView


class CaseSummary(BaseModel):
    case_id: str
    status: str | None
    severity: str | None
    category: str | None
    tenant_id: str | None
    first_response_due: datetime | None
    sla_breached: bool | None
    started_at: datetime | None


# A query needs a worker to run it. Without one it would wait for the client's default; with a
# worker that just died, it waits out the server's sticky-queue timeout (~10 s) first.
QUERY_TIMEOUT = timedelta(seconds=20)


def _rpc_error(error: RPCError, case_id: str) -> Exception:
    if error.status == RPCStatusCode.NOT_FOUND:
        return CaseNotFound(f"no case {case_id!r}")
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return Unavailable(f"Temporal did not answer for {case_id}: {error.message}")
    return error


class Cases:
    def __init__(self, client: Client, task_queue: str, open_wait: timedelta = timedelta(seconds=15)) -> None:
        self._client = client
        self._task_queue = task_queue
        self._open_wait = open_wait

    @property
    def client(self) -> Client:
        return self._client

    def _handle(self, case_id: str) -> WorkflowHandle[SupportCaseWorkflow, CaseView]:
        return self._client.get_workflow_handle_for(SupportCaseWorkflow.run, case_id)

    async def open(self, request: CaseRequest) -> OpenedCase:
        """Start the case (or find it, if this request id was seen before) and return its view
        once it has been decided: awaiting first response, or refused."""
        created = True
        try:
            await self._client.start_workflow(
                SupportCaseWorkflow.run,
                CaseStart(request=request),
                id=request.case_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=sa.at_start(
                    request.tenant_id, request.category.value, request.severity.value
                ),
            )
        except WorkflowAlreadyStartedError:
            created = False
        except RPCError as error:
            raise _rpc_error(error, request.case_id) from None
        return OpenedCase(created=created, case=await self._decided_view(request.case_id))

    async def _decided_view(self, case_id: str) -> CaseView:
        """The case's own answer once it is decided. A case that has already ended answers from
        its history. No answer within the open wait means no worker could decide it (none is
        running, or it cannot read the policy file or the directory): the case is recorded and
        waits, which the caller is told (asking again with the same request id is safe)."""
        try:
            return await asyncio.wait_for(
                self._handle(case_id).execute_update(SupportCaseWorkflow.decided),
                self._open_wait.total_seconds(),
            )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise Unavailable(
                f"case {case_id} is recorded, but was not decided within "
                f"{self._open_wait.total_seconds():.0f} s: no worker is running, or the worker cannot "
                "read the policy file or the tenant directory (see its log). It will be decided as "
                "soon as one can; sending the same request (same request_id) again is safe."
            ) from None
        except (RPCError, WorkflowUpdateFailedError):
            return await self.show(case_id)

    async def show(self, case_id: str) -> CaseView:
        """The case view: from the running workflow, or from the result of a finished one."""
        handle = self._handle(case_id)
        try:
            description = await handle.describe()
            if description.status is WorkflowExecutionStatus.COMPLETED:
                return await self._final_view(handle)
            return await handle.query(SupportCaseWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as error:
            raise _rpc_error(error, case_id) from None
        except WorkflowQueryFailedError as error:
            raise Unavailable(f"case {case_id} could not be read: {error}") from None

    async def _final_view(self, handle: WorkflowHandle[SupportCaseWorkflow, CaseView]) -> CaseView:
        """A finished case's view is its workflow result, read from history (no worker needed)."""
        history = await handle.fetch_history()
        for event in reversed(history.events):
            if event.HasField("workflow_execution_completed_event_attributes"):
                payloads = event.workflow_execution_completed_event_attributes.result.payloads
                [view] = await self._client.data_converter.decode(payloads, [CaseView])
                return view  # type: ignore[no-any-return]
        raise Unavailable(f"case {handle.id} completed but its result is not in its history")

    async def list(
        self,
        status: CaseStatus | None = None,
        severity: Severity | None = None,
        category: Category | None = None,
        tenant_id: str | None = None,
        limit: int = 100,
    ) -> list[CaseSummary]:
        """Cases by their search attributes (enums and ids only, so the query needs no escaping)."""
        clauses = [f"WorkflowType = '{SupportCaseWorkflow.__name__}'"]
        for key, value in (
            (sa.CASE_STATUS, status),
            (sa.CASE_SEVERITY, severity),
            (sa.CASE_CATEGORY, category),
            (sa.TENANT_ID, tenant_id),
        ):
            if value is not None:
                clauses.append(f"{key.name} = '{value}'")
        summaries: list[CaseSummary] = []
        try:
            async for execution in self._client.list_workflows(" AND ".join(clauses), limit=limit):
                attrs = execution.typed_search_attributes
                summaries.append(
                    CaseSummary(
                        case_id=execution.id,
                        status=attrs.get(sa.CASE_STATUS),
                        severity=attrs.get(sa.CASE_SEVERITY),
                        category=attrs.get(sa.CASE_CATEGORY),
                        tenant_id=attrs.get(sa.TENANT_ID),
                        first_response_due=attrs.get(sa.FIRST_RESPONSE_DUE),
                        sla_breached=attrs.get(sa.SLA_BREACHED),
                        started_at=execution.start_time,
                    )
                )
        except RPCError as error:
            raise _rpc_error(error, "list") from None
        return summaries

    async def respond(self, case_id: str, action: FirstResponse) -> CaseView:
        return await self._view_after(case_id, SupportCaseWorkflow.respond, action)

    async def resolve(self, case_id: str, action: Resolution) -> CaseView:
        return await self._view_after(case_id, SupportCaseWorkflow.resolve, action)

    async def update_customer(self, case_id: str, action: CustomerUpdate) -> CaseView:
        return await self._view_after(case_id, SupportCaseWorkflow.update_customer, action)

    async def request_customer_action(self, case_id: str, action: CustomerActionRequest) -> CaseView:
        return await self._view_after(case_id, SupportCaseWorkflow.request_customer_action, action)

    async def change_severity(self, case_id: str, action: SeverityChangeRequest) -> CaseView:
        return await self._view_after(case_id, SupportCaseWorkflow.change_severity, action)

    async def reopen(self, case_id: str, action: ReopenRequest) -> CaseView:
        return await self._view_after(case_id, SupportCaseWorkflow.reopen, action)

    async def _view_after(self, case_id: str, update: object, action: BaseModel) -> CaseView:
        view: CaseView = await self._act(case_id, update, action)
        return view

    async def verify(self, case_id: str, attempt: VerificationAttempt) -> VerificationResult:
        result: VerificationResult = await self._act(case_id, SupportCaseWorkflow.verify, attempt)
        return result

    async def cooperate(self, case_id: str, answer: Cooperation) -> None:
        await self._signal(case_id, SupportCaseWorkflow.cooperate, answer)

    async def answer_survey(self, case_id: str, answer: SurveyAnswer) -> None:
        await self._signal(case_id, SupportCaseWorkflow.survey, answer)

    async def _signal(self, case_id: str, signal: object, payload: BaseModel) -> None:
        try:
            await self._handle(case_id).signal(signal, payload)  # type: ignore[call-overload]
        except RPCError as error:
            raise await self._not_running(error, case_id) from None

    async def _act(self, case_id: str, update: object, action: BaseModel) -> Any:
        handle = self._handle(case_id)
        try:
            return await handle.execute_update(update, action)  # type: ignore[call-overload]
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            raise ActionRejected(getattr(cause, "message", None) or str(cause or error)) from None
        except RPCError as error:
            raise await self._not_running(error, case_id) from None

    async def _not_running(self, error: RPCError, case_id: str) -> Exception:
        """A case that has ended refuses actions (409); one that never existed is not found (404)."""
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return _rpc_error(error, case_id)
        try:
            description = await self._handle(case_id).describe()
        except RPCError as again:
            return _rpc_error(again, case_id)
        status = description.status.name.lower() if description.status else "closed"
        return ActionRejected(f"the case {case_id} has ended ({status}); it takes no more actions")

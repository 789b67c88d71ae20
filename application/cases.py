"""The one code path that opens, reads and drives cases (the CLI and the HTTP API).

Every call names its principal: a case of a tenant the principal does not act for is not found
(its existence is not revealed), an opening for such a tenant is forbidden, and lists show only the
principal's tenants. The CLI and in-process callers act as the operator (they hold the Temporal
connection, which is operator power anyway).

The gateway is handed what it talks to (the Temporal client, the directory, the verification gate);
it opens nothing itself. `bootstrap/gateway.py` builds it as the installation runs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import QueryRejectCondition, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.case_numbers import CaseNumbers
from adapters.directory_store import DirectoryStore
from adapters.logging import get_logger
from adapters.policy_file import load_policy_snapshot
from adapters.staff import StaffFileError, load_staff
from application.actions import OF_MODEL, CaseAction
from application.case_listing import BadCursor, CaseFilter, CasePage, CaseSummary, ListOrder, list_page

# The gateway's errors, said once for every front (application.errors), re-exported from here.
from application.errors import (
    ActionRejected as ActionRejected,
)
from application.errors import (
    ActionTakenLate as ActionTakenLate,
)
from application.errors import (
    CaseNotFound as CaseNotFound,
)
from application.errors import (
    Forbidden as Forbidden,
)
from application.errors import (
    InvalidField as InvalidField,
)
from application.errors import (
    PolicyInvalid as PolicyInvalid,
)
from application.errors import (
    RequestConflict as RequestConflict,
)
from application.errors import (
    TooManyOpenCases as TooManyOpenCases,
)
from application.errors import (
    Unavailable as Unavailable,
)
from application.limits import RateLimited, RateLimiter
from application.verification_gate import VerificationGate, case_caller
from support.case.action_ids import ALREADY_TAKEN, NO_SUCH_CASE, TENANTS_IN_ID, TOO_LATE, action_update_id
from support.case.action_receipt import ActionReceipt, QueueFacts, clock_marks, receipt
from support.case.action_table import action_of
from support.case.actions import AttachmentRef, CustomerReply
from support.case.customer_view import customer_view
from support.case.machine import MOVING_MARK
from support.case.numbers import serial_of
from support.case.view import CaseView
from support.identity.access import CLI_OPERATOR, Permission, Principal
from support.identity.verification import SealedAttempt, VerificationAttempt, VerificationResult
from support.policies.policy import PolicyError
from support.policies.vocabulary import CaseStatus, Category, Severity
from support.rules.customer_replies import follow_up_request
from support.rules.request import CaseRequest, RequestDetails
from support.sla_clocks.ledger import SlaBasis
from support.wording.names import Names
from workflows import search_attributes as sa
from workflows.support_case import CaseStart, SupportCaseWorkflow

# Why the policy file cannot be used now, or None (adapters.policy_file.policy_problem, bound to
# the installation's file by bootstrap).
PolicyCheck = Callable[[], str | None]
POLICY_INVALID_WAIT_S = 2.0  # a worker with a good copy of the file decides it meanwhile


NOT_ON_STAFF = "not on the staff list"
NOT_FOR_TENANT = "not one of the staff who work this tenant's cases"


class StaffNames(Protocol):
    """Who may be named where the staff list is asked (`CaseAction.staff_field`): the names of the
    list as it is now (read again on each call, so an edit of the file applies without a restart);
    given a tenant, those who may work its cases (the list's team rule, `support.identity.staffing`)."""

    def __call__(self, tenant: str | None = None) -> Collection[str]: ...


def staff_from_file(path: Path) -> StaffNames:
    """The names of the staff list file (CASEWORK_STAFF); a file that cannot be read is a 503."""

    def names(tenant: str | None = None) -> frozenset[str]:
        try:
            staff = load_staff(path)
        except StaffFileError as error:
            raise Unavailable(str(error)) from None
        return frozenset(staff.who_may_work(tenant) if tenant else (m.name for m in staff.staff))

    return names


# How the customer's side reads staff (`support.wording.names`): the staff list's display names and the
# policy's support name, read again on each call like the staff names.
NamesSource = Callable[[], Names]


def names_from_files(staff_file: Path, policy_file: Path) -> NamesSource:
    """The display names of the staff list and the support name of the policy file (503 if either
    cannot be read: a customer is never shown a staff name for want of the list)."""

    def names() -> Names:
        try:
            staff = load_staff(staff_file)
            policy = load_policy_snapshot(policy_file, datetime.now(UTC).year)
        except (StaffFileError, PolicyError, OSError) as error:
            raise Unavailable(f"the staff list or the policy cannot be read: {error}") from None
        return staff.names(policy.routing.support_name)

    return names


CaseClock = Callable[[], Awaitable[datetime]]


class OpeningFiles(Protocol):
    """The files an opening names (`application.opening_files.Uploads`)."""

    async def claim(self, request: CaseRequest) -> list[AttachmentRef]:
        """Keep the request's uploads under its case id (InvalidField when one is not there)."""

    async def used(self, request: CaseRequest) -> None:
        """The case started with them: drop the uploads."""


# The closed record of a case (`application.closed_views`), or None: read when Temporal no longer has it.
ClosedViews = Callable[[str], Awaitable[CaseView | None]]
FINGERPRINT_MEMO = "request_sha256"
log = get_logger("casework.intake")
REPLY_ATTEMPTS = 5  # a reply refused while the case moves to its next run is sent again this often
# An action (an update) sent while its case cannot be reached (its worker was killed and another is
# taking the case over: the dead worker's sticky queue and task time out, ~10 s each) is sent again,
# with the same update id, until the case takes it. The case takes it only within ACTION_WAIT of the
# request (the instant is in the update id, `support.case.action_ids`); a workflow task that took it in
# time completes, or times out and is retried (then refusing it), within ACTION_SETTLE more. So a
# caller waits at most ACTION_WAIT + ACTION_SETTLE (42 s), and then its action has either landed,
# once, or will never land: `Unavailable` (503 with Retry-After), "send it again".
ACTION_WAIT = timedelta(seconds=30)
ACTION_SETTLE = timedelta(seconds=12)  # the workflow task timeout (10 s) and a margin
# Each attempt's wait before the same update is sent again: longer than a workflow task's 10 s
# timeout, as cancelling the call may drop the case's pending (speculative) task and its work (at 5 s,
# a loaded worker never finished one: 8 attempts in 42 s, none taken).
ACTION_ATTEMPT = timedelta(seconds=15)
TAKEN_ASK = timedelta(seconds=2)  # whether a late update was taken: the server knows at once
_UNREACHABLE = (
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
)


def fingerprint(request: CaseRequest) -> str:
    """What makes two openings with one request id the same request: the whole body, canonical."""
    fields = request.model_dump(mode="json", exclude=None if request.attachments else {"attachments"})
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"))  # as before files: the same
    return hashlib.sha256(body.encode()).hexdigest()


class OpenedCase(BaseModel):
    created: bool
    case: CaseView


# A query needs a worker to run it. Without one it would wait for the client's default; with a
# worker that just died, it waits out the server's sticky-queue timeout (~10 s) first.
QUERY_TIMEOUT = timedelta(seconds=20)


async def _host_clock() -> datetime:
    return datetime.now(UTC)


def _standing(view: CaseView) -> ActionReceipt:
    """The receipt of an action taken earlier (its own answer is gone): the case as it stands."""
    return receipt(view, clock_marks(view))


def _rpc_error(error: RPCError, case_id: str) -> Exception:
    if error.status == RPCStatusCode.NOT_FOUND:
        return CaseNotFound(f"no case {case_id!r}")
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return Unavailable(f"Temporal did not answer for {case_id}: {error.message}")
    return error


class Cases:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        open_wait: timedelta = timedelta(seconds=15),
        directory: DirectoryStore | None = None,
        max_open_cases: int = 0,
        verification: VerificationGate | None = None,
        staff: StaffNames | None = None,
        eager_start: bool = False,
        openings: RateLimiter | None = None,
        action_wait: timedelta = ACTION_WAIT,
        policy_check: PolicyCheck | None = None,
        names: NamesSource | None = None,
        numbers: CaseNumbers | None = None,
        case_clock: CaseClock | None = None,
        projection: Callable[[CaseView, list[str]], None] | None = None,
        refresh_projection: Callable[[str, QueueFacts], None] | None = None,
        closed_views: ClosedViews | None = None,
        opening_files: OpeningFiles | None = None,
    ) -> None:
        """`directory` checks requesters and contact addresses against the tenant's entry;
        `max_open_cases` caps the cases a tenant may have open at once (0: no cap); `verification`
        seals phone codes and limits wrong ones per caller (`bootstrap.gateway.build_cases` wires all
        three from the settings); `openings` limits the new cases a tenant opens (the API's
        CASEWORK_OPENINGS_PER_TENANT: the API hands it its limiter; an idempotent re-send never
        counts).
        `eager_start`: a worker on this very client polls the task queue (`make run`: the API in the
        worker's process), so the server may hand a new case's first task straight to it.
        `action_wait`: how long an action may wait for its case to take it (`ACTION_WAIT`).
        `case_clock`: the clock the cases read (`workflow.now()`), on which an action's deadline is
        set: this host's by default (a Temporal server's, kept in step by NTP); a time-skipping test
        server's own in tests, where the cases' clock runs ahead of this host's.
        `projection` and `refresh_projection`: the console's queue (adapters.console_cases);
        `closed_views`: closed records, for cases past retention (application.closed_views);
        `opening_files`: the uploads an opening names (application.opening_files). Every one is given
        here, never set later (`completed` makes a gateway with what one was made without)."""
        self._made: dict[str, Any] = {  # what this gateway was made with, for `completed`
            "client": client, "task_queue": task_queue, "open_wait": open_wait, "directory": directory,
            "max_open_cases": max_open_cases, "verification": verification, "staff": staff,
            "eager_start": eager_start, "openings": openings, "action_wait": action_wait,
            "policy_check": policy_check, "names": names, "numbers": numbers, "case_clock": case_clock,
            "projection": projection, "refresh_projection": refresh_projection,
            "closed_views": closed_views, "opening_files": opening_files,
        }  # fmt: skip
        self._client = client
        self._task_queue = task_queue
        self._open_wait = open_wait
        self.directory = directory
        self._max_open_cases = max_open_cases
        self.verification = verification
        self.staff = staff  # the entry point that knows the settings gives it (API, CLI)
        self.names = names  # how the customer's side reads staff (support.wording.names); None: the defaults
        self.numbers = numbers  # case numbers (CW-10482); None: cases get none (a gateway made by hand)
        self._eager_start = eager_start
        self.openings = openings  # the API's front gives its limiter (application.limits.FrontLimits)
        self._action_wait = action_wait
        self._case_clock = case_clock or _host_clock
        self.policy_check = policy_check  # a bad policy file: an opening says so at once
        # the console's projection (adapters.console_cases): told the view each opening, action and
        # read answers with, and the opening's words; None: none (a gateway made by hand)
        self.projection = projection
        # ... and the queue's facts each action's receipt carries (its row's changing columns)
        self.refresh_projection = refresh_projection
        self.closed_views = closed_views  # closed records, for cases past retention
        self.opening_files = opening_files  # uploads an opening names (application.opening_files)

    def completed(
        self,
        directory: DirectoryStore | None = None,
        verification: VerificationGate | None = None,
        staff: StaffNames | None = None,
        openings: RateLimiter | None = None,
        policy_check: PolicyCheck | None = None,
        opening_files: OpeningFiles | None = None,
    ) -> Cases:
        """A gateway like this one over the same client, given each of these it was made without
        (a test's `Cases(client, task_queue)` served by the API gets the installation's checks;
        what it was made with is kept). This one is not changed."""
        given = {
            "directory": directory, "verification": verification, "staff": staff, "openings": openings,
            "policy_check": policy_check, "opening_files": opening_files,
        }  # fmt: skip
        made = dict(self._made)
        for name, value in given.items():
            if made[name] is None:
                made[name] = value
        return Cases(**made)

    @property
    def client(self) -> Client:
        return self._client

    def _handle(self, case_id: str) -> WorkflowHandle[SupportCaseWorkflow, CaseView]:
        return self._client.get_workflow_handle_for(SupportCaseWorkflow.run, case_id)

    async def open(
        self, request: CaseRequest, principal: Principal = CLI_OPERATOR, follows: str | None = None
    ) -> OpenedCase:
        """Start the case (or find it, if this tenant sent this request id before) and return its
        view once it has been decided: awaiting first response or verification, or refused.
        `follows`: the closed case a reply to which opens this one (the inbound mail).

        Its number is allocated before the start, keyed by the case id: a start that fails, or the
        same request sent again, finds the number it got, and no case is started without one."""
        self.authorise_opening(request, principal)
        digest = fingerprint(request)
        existing = await self._existing(request.case_id)
        if existing is not None:
            if existing != digest:
                raise RequestConflict(
                    f"request_id {request.request_id!r} was already used for another request of this "
                    "tenant; use a new request_id for a new case"
                )
            return OpenedCase(
                created=False, case=self.seen(await self._decided_view(request.case_id), principal)
            )
        await self._check_people(request, principal)
        await self._check_open_cases(request.tenant_id)
        files = await self._files(request)  # the uploads it names, kept under the case's id
        self._take_opening(request.tenant_id)
        created = True
        try:
            number = await self._allocate(request)
            await self._client.start_workflow(
                SupportCaseWorkflow.run,
                CaseStart(request=request, case_number=number, follows=follows, attachments=files),
                id=request.case_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=sa.at_start(
                    request.tenant_id,
                    request.category.value,
                    request.severity.value,
                    None
                    if self.verification is None
                    else self.verification.requester_key(request.tenant_id, request.requester),
                ),
                memo={FINGERPRINT_MEMO: digest},
                request_eager_start=self._eager_start,
            )
        except WorkflowAlreadyStartedError:
            created = False  # the same request, sent twice at once
            self._give_back_opening(request.tenant_id)
            if await self._existing(request.case_id) not in (digest, ""):
                raise RequestConflict(
                    f"request_id {request.request_id!r} was already used for another request"
                ) from None
        except RPCError as error:
            self._give_back_opening(request.tenant_id)
            raise _rpc_error(error, request.case_id) from None
        except BaseException:
            self._give_back_opening(request.tenant_id)
            raise
        if files and self.opening_files is not None:
            await self.opening_files.used(request)  # the case holds them now: the uploads go
        decided = await self._decided_view(request.case_id)
        await self._projected(decided, [request.requester, request.description])
        return OpenedCase(created=created, case=self.seen(decided, principal))

    async def _projected(self, view: CaseView, words: list[str] | None = None) -> None:
        """Tell the console's projection; its failure never fails what the caller asked."""
        if self.projection is None:
            return
        try:
            await asyncio.to_thread(self.projection, view, words or [])
        except (SQLAlchemyError, ValueError) as error:
            log.warning("console projection not written", case_id=view.case_id, error=type(error).__name__)

    async def _refreshed(self, case_id: str, facts: QueueFacts) -> None:
        """Tell the console's projection what an action changed; never fails the action."""
        if self.refresh_projection is None:
            return
        try:
            await asyncio.to_thread(self.refresh_projection, case_id, facts)
        except (SQLAlchemyError, ValueError) as error:
            log.warning("console projection not written", case_id=case_id, error=type(error).__name__)

    async def _files(self, request: CaseRequest) -> list[AttachmentRef]:
        if not request.attachments:
            return []
        if self.opening_files is None:
            raise InvalidField("attachments", "this intake keeps no files; open the case without them")
        return await self.opening_files.claim(request)

    async def _allocate(self, request: CaseRequest) -> str | None:
        if self.numbers is None:
            return None
        try:
            return await asyncio.to_thread(self.numbers.allocate, request.case_id, request.tenant_id)
        except SQLAlchemyError as error:
            raise Unavailable(f"no case number could be allocated: {type(error).__name__}") from None

    async def case_id_of(self, ref: str) -> str:
        """The case id `ref` names: a case number (CW-10482) is looked up, anything else is taken
        as a case id. The one place a number becomes an id: every command and route that takes a
        case calls it (a number no case has is not found, like an id)."""
        if serial_of(ref) is None:
            return ref
        if self.numbers is None:
            raise CaseNotFound(f"no case {ref!r}")
        numbers = self.numbers
        try:
            case_id = await asyncio.to_thread(numbers.case_for, ref)
        except SQLAlchemyError as error:
            raise Unavailable(f"case numbers cannot be read: {type(error).__name__}") from None
        if case_id is None:
            raise CaseNotFound(f"no case {ref!r}")
        return case_id

    @staticmethod
    def authorise_opening(request: CaseRequest, principal: Principal) -> None:
        """Who may open this request: a key acting for the tenant; phone intake only by the phone
        system, which vouches for the caller's number."""
        if not principal.allows(Permission.OPEN_CASE):
            raise Forbidden(f"a {principal.role.value} key cannot open cases")
        if not principal.sees(request.tenant_id):
            raise Forbidden(f"this key does not act for tenant {request.tenant_id!r}")
        if request.caller_number is not None and not principal.allows(Permission.OPEN_PHONE_CASE):
            raise Forbidden("only the phone system's key may state caller_number (phone intake)")

    async def _existing(self, case_id: str) -> str | None:
        """The fingerprint of the request that opened this case ('' for cases from before
        fingerprints), or None when there is no such case."""
        try:
            description = await self._handle(case_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise _rpc_error(error, case_id) from None
        memo = await description.memo()
        return str(memo.get(FINGERPRINT_MEMO, ""))

    def _take_opening(self, tenant_id: str) -> None:
        """One of the tenant's openings an hour, taken only for a case about to be started."""
        if self.openings is None:
            return
        wait = self.openings.take(tenant_id)
        if wait is not None:
            raise RateLimited(
                f"tenant {tenant_id!r} opened {self.openings.limit} cases in the last hour, the most "
                f"it may; try again in {int(wait)} s",
                wait,
            )

    def _give_back_opening(self, tenant_id: str) -> None:
        if self.openings is not None:
            self.openings.give_back(tenant_id)

    async def _check_people(self, request: CaseRequest, principal: Principal) -> None:
        """Who the case names, before any mail or case: the requester is one of the tenant's
        addresses in the directory (its admins, users and registered emails) or the key's own
        name, and customer mail goes only to the tenant's own addresses or to the requester. The
        one rule for every front (API, phone intake, console, CLI). Without a directory (a
        gateway made by hand in tests) nothing is checked."""
        if self.directory is None:
            return
        directory, tenant = self.directory, request.tenant_id
        requester = request.requester.lower()
        if requester != principal.name.lower() and not await asyncio.to_thread(
            directory.contact_belongs, tenant, requester
        ):
            raise InvalidField(
                "requester",
                f"not an address of tenant {tenant!r} in the directory (its admins, users and "
                "registered emails), nor this key's own name; name the person who asks",
            )
        address = request.contact_email.lower()
        if address == requester:
            return
        if not await asyncio.to_thread(directory.contact_belongs, tenant, address):
            raise InvalidField(
                "contact_email",
                "not an address of this tenant in the directory, nor the requester's; "
                "use a registered address or the requester's own",
            )

    async def _check_open_cases(self, tenant_id: str) -> None:
        if self._max_open_cases <= 0:
            return
        query = (
            f"WorkflowType = '{SupportCaseWorkflow.__name__}' AND {sa.TENANT_ID.name} = '{tenant_id}' "
            "AND ExecutionStatus = 'Running'"
        )
        try:
            count = (await self._client.count_workflows(query)).count
        except RPCError as error:
            if error.status is RPCStatusCode.UNIMPLEMENTED:
                # A server without the visibility API (the time-skipping test server) cannot count.
                log.warning("open-case cap not enforced: the server cannot count workflows")
                return
            raise _rpc_error(error, "count") from None
        if count >= self._max_open_cases:
            raise TooManyOpenCases(
                f"tenant {tenant_id!r} has {count} open cases, the most it may have at once; "
                "resolve or withdraw one first"
            )

    async def scope(self, case_id: str, principal: Principal) -> str:
        """The case's tenant, when the principal may see it; otherwise the case does not exist."""
        case_id = await self.case_id_of(case_id)
        try:
            description = await self._handle(case_id).describe()
        except RPCError as error:
            raise _rpc_error(error, case_id) from None
        tenant = description.typed_search_attributes.get(sa.TENANT_ID)
        if tenant is None or not principal.sees(tenant):
            raise CaseNotFound(f"no case {case_id!r}")
        return tenant

    async def _decided_view(self, case_id: str) -> CaseView:
        """The case's own answer once it is decided. A case that has already ended answers from
        its history. No answer within the open wait: the case is recorded and waits, and the caller
        is told why as far as the server can say (`_worker_polling`): a worker polls the case's
        task queue but has not decided it yet (busy, or it cannot read the policy file or the
        directory), or none polls it; either way asking again with the same request id is safe.

        While the case cannot be reached the question is asked again (the same update id) until
        the open wait is over: a case whose first task was lost with a killed worker twice is
        refused updates and queries by the server ("Workflow Task in failed state") until a
        worker completes a task of it, and a replacement worker may take it within the wait. A
        policy file that cannot be read is said after a short wait instead (`PolicyInvalid`)."""
        problem = await asyncio.to_thread(self.policy_check) if self.policy_check is not None else None
        seconds = self._open_wait.total_seconds() if problem is None else POLICY_INVALID_WAIT_S
        loop = asyncio.get_running_loop()
        give_up = loop.time() + seconds
        handle = self._handle(case_id)
        update_id = f"decided-{uuid.uuid4().hex}"  # new for each call, the same for its attempts
        pause = 0.2
        while (left := give_up - loop.time()) > 0:
            try:
                return await asyncio.wait_for(
                    handle.execute_update(
                        SupportCaseWorkflow.decided, id=update_id, rpc_timeout=timedelta(seconds=left)
                    ),
                    left,
                )
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                break
            except WorkflowUpdateFailedError:
                return await self.show(case_id)
            except RPCError as error:
                if error.status not in _UNREACHABLE and error.status is not RPCStatusCode.FAILED_PRECONDITION:
                    return await self.show(case_id)  # ended (not found): its view is in its history
            await asyncio.sleep(min(pause, max(give_up - loop.time(), 0)))
            pause = min(pause * 2, 2.0)
        if problem is not None:
            raise PolicyInvalid(
                problem,
                f"case {case_id} is recorded, but cannot be decided while the policy file is invalid: "
                f"{problem}; it will be decided once the file is fixed, and sending the same request "
                "(same request_id) again is safe",
            )
        waited = f"case {case_id} is recorded, but was not decided within {seconds:.0f} s"
        polling = await self._worker_polling()
        if polling is None:
            why = (
                f"{waited}. It will be decided as soon as a worker can; sending the same request "
                "(same request_id) again is safe."
            )
        elif polling:
            why = (
                f"{waited}: a worker is running but has not decided it yet (it is busy, or it cannot "
                "read the policy file or the tenant directory: see its log). It will be decided as soon "
                "as it can; sending the same request (same request_id) again is safe."
            )
        else:
            why = (
                f"{waited}: no worker is polling the task queue {self._task_queue!r} (none is running, "
                "or none for this queue). It will be decided once one runs; sending the same request "
                "(same request_id) again is safe."
            )
        raise Unavailable(why)

    async def _worker_polling(self, seen_within: timedelta = timedelta(seconds=70)) -> bool | None:
        """Whether the server saw a worker poll the case's task queue (for workflow tasks) within
        `seen_within`; None when it cannot say (it did not answer, or does not describe task queues:
        the time-skipping test server). The server notes a poller when its long poll starts and when
        it ends, and an idle worker's long poll lasts up to a minute, so a live idle worker may have
        been seen up to ~60 s ago; a worker stopped less than `seen_within` ago still counts."""
        try:
            described = await self._client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self._client.namespace,
                    task_queue=TaskQueue(name=self._task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                ),
                timeout=timedelta(seconds=5),
            )
        except RPCError as error:
            status = error.status.name if error.status else None
            log.warning("could not tell whether a worker polls the task queue", status=status)
            return None
        now = datetime.now(UTC)
        return any(
            poller.HasField("last_access_time")
            and now - poller.last_access_time.ToDatetime(tzinfo=UTC) <= seen_within
            for poller in described.pollers
        )

    async def show(
        self,
        case_id: str,
        principal: Principal = CLI_OPERATOR,
        language: str | None = None,
        *,
        records: bool = True,
    ) -> CaseView:
        """The case view: from the running workflow, or from the result of a finished one.
        `language`: the reader's (a portal page's), for the names staff are shown by; else the case's.
        `records`: a case Temporal no longer holds is read from its closed record; a page that must
        tell the two apart (the portal's: an archived case takes no comment) says False and gets
        CaseNotFound instead."""
        view, _ = await self._read(case_id, principal, language, records, with_basis=False)
        return view

    async def show_with_basis(
        self, case_id: str, principal: Principal = CLI_OPERATOR, language: str | None = None
    ) -> tuple[CaseView, SlaBasis | None]:
        """`show`, and for a running case its SLA basis (record, policy snapshot, tenant facts),
        in the same one query: the console's case page needs both (issue 26: a click is the
        action and one read). None: the case has ended, and takes nothing."""
        return await self._read(case_id, principal, language, True, with_basis=True)

    async def _read(
        self, case_id: str, principal: Principal, language: str | None, records: bool, *, with_basis: bool
    ) -> tuple[CaseView, SlaBasis | None]:
        if not principal.allows(Permission.READ_CASES):
            raise Forbidden(f"a {principal.role.value} key cannot read cases")
        case_id = await self.case_id_of(case_id)
        handle = self._handle(case_id)
        basis: SlaBasis | None = None
        # One query for a running case (issue 26): the tenant is checked on the view itself. A case
        # that has completed is refused the query by the server, and read from its history.
        try:
            try:
                if with_basis:
                    basis = await handle.query(
                        SupportCaseWorkflow.shown_basis,
                        rpc_timeout=QUERY_TIMEOUT,
                        reject_condition=QueryRejectCondition.NOT_OPEN,
                    )
                    view = basis.view
                else:
                    view = await handle.query(
                        SupportCaseWorkflow.shown,
                        rpc_timeout=QUERY_TIMEOUT,
                        reject_condition=QueryRejectCondition.NOT_OPEN,
                    )
            except WorkflowQueryRejectedError as rejected:
                if rejected.status is not WorkflowExecutionStatus.COMPLETED:  # ended otherwise
                    view = await handle.query(SupportCaseWorkflow.shown, rpc_timeout=QUERY_TIMEOUT)
                else:
                    view = await self._final_view(handle)
            if not principal.sees(view.tenant_id):
                raise CaseNotFound(f"no case {case_id!r}")
            if view.request is not None:  # the console's projection, fed by every read
                await self._projected(view, [view.request.requester, view.request.description])
            return self.seen(view, principal, language), basis
        except RPCError as error:
            if error.status == RPCStatusCode.FAILED_PRECONDITION:  # "Workflow Task in failed state"
                raise Unavailable(
                    f"case {case_id} cannot be read right now: a worker is taking it over (ask again)"
                ) from None
            closed = (
                await self._closed(case_id, principal)
                if records and error.status == RPCStatusCode.NOT_FOUND
                else None
            )
            if closed is not None:  # past Temporal's retention: its closed record
                return self.seen(closed, principal, language), None
            raise _rpc_error(error, case_id) from None
        except WorkflowQueryFailedError as error:
            raise Unavailable(f"case {case_id} could not be read: {error}") from None

    async def _closed(self, case_id: str, principal: Principal) -> CaseView | None:
        """The closed record of a case Temporal no longer holds, if the principal may see it."""
        if self.closed_views is None:
            return None
        view = await self.closed_views(case_id)
        return view if view is not None and principal.sees(view.tenant_id) else None

    async def _final_view(self, handle: WorkflowHandle[SupportCaseWorkflow, CaseView]) -> CaseView:
        """A finished case's view is its workflow result, read from history (no worker needed)."""
        history = await handle.fetch_history()
        for event in reversed(history.events):
            if event.HasField("workflow_execution_completed_event_attributes"):
                payloads = event.workflow_execution_completed_event_attributes.result.payloads
                [view] = await self._client.data_converter.decode(payloads, [CaseView])
                if isinstance(view, CaseView):
                    return view.model_copy(update={"request": await self._started_with(history)})
        raise Unavailable(f"case {handle.id} completed but its result is not in its history")

    async def _started_with(self, history: WorkflowHistory) -> RequestDetails | None:
        """The description and contact of a finished case: from its last run's input."""
        started = history.events[0].workflow_execution_started_event_attributes
        [start] = await self._client.data_converter.decode(started.input.payloads, [CaseStart])
        return RequestDetails.of(start.request, start.attachments) if isinstance(start, CaseStart) else None

    async def list(
        self,
        status: CaseStatus | None = None,
        severity: Severity | None = None,
        category: Category | None = None,
        tenant_id: str | None = None,
        limit: int = 100,
        principal: Principal = CLI_OPERATOR,
        assignee: str | None = None,
    ) -> list[CaseSummary]:
        """The first page of cases by their search attributes, newest first (`page` for more)."""
        wanted = CaseFilter(
            statuses=() if status is None else (status,),
            severity=severity,
            category=category,
            tenant_id=tenant_id,
            assignee=assignee,
        )
        return (await self.page(wanted, principal=principal, limit=limit)).cases

    async def page(
        self,
        wanted: CaseFilter,
        *,
        principal: Principal = CLI_OPERATOR,
        order: ListOrder = ListOrder.STARTED,
        cursor: str | None = None,
        limit: int = 100,
        requester: str | None = None,
    ) -> CasePage:
        """One page of the principal's cases (`application.case_listing`): only its tenants; who holds
        a case and the requester filter are for staff; `requester` is matched by its keyed
        digest (the name is never a search attribute)."""
        if not principal.allows(Permission.READ_CASES):
            raise Forbidden(f"a {principal.role.value} key cannot list cases")
        if wanted.assignee is not None and principal.customer_side:
            raise Forbidden("who holds a case is for staff: a portal or phone key cannot filter by assignee")
        scope = principal.tenant_filter
        if scope is not None and wanted.tenant_id is not None and wanted.tenant_id not in scope:
            return CasePage(cases=[])
        if requester is not None:
            if wanted.tenant_id is None:
                raise InvalidField("tenant", "a requester is named within a tenant: give its tenant", "query")
            if self.verification is None:
                raise Unavailable("the requester filter needs the verification key (its secret is not set)")
            wanted = dataclasses.replace(
                wanted, requester_key=self.verification.requester_key(wanted.tenant_id, requester)
            )
        try:
            page = await list_page(self._client, wanted, principal, order=order, cursor=cursor, limit=limit)
        except BadCursor as error:
            raise InvalidField("cursor", str(error), where="query") from None
        except RPCError as error:
            transient = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
            if cursor and error.status not in transient:  # the server could not read the page token
                raise InvalidField("cursor", "not a cursor of this listing", where="query") from None
            raise _rpc_error(error, "list") from None
        return await self._numbered(page)

    async def _numbered(self, page: CasePage) -> CasePage:
        """The page with each case's number (one query; a case from before numbers has none)."""
        if self.numbers is None or not page.cases:
            return page
        numbers = self.numbers
        try:
            found = await asyncio.to_thread(numbers.numbers_of, [c.case_id for c in page.cases])
        except SQLAlchemyError as error:
            raise Unavailable(f"case numbers cannot be read: {type(error).__name__}") from None
        cases = [c.model_copy(update={"case_number": found.get(c.case_id)}) for c in page.cases]
        return page.model_copy(update={"cases": cases})

    async def perform(
        self, action: CaseAction, case_id: str, payload: BaseModel, principal: Principal = CLI_OPERATOR
    ) -> ActionReceipt:
        """Carry out one action of the table for this principal: its role must allow it, and the
        case must be of a tenant it acts for; a name it gives for a staff field must be on the staff
        list. It answers with the case's receipt (`support.case.action_receipt`: status, clocks moved,
        sequence; never the view, which `show` reads)."""
        if not principal.allows(action.permission):
            raise Forbidden(f"a {principal.role.value} key cannot {action.name} (needs {action.permission})")
        case_id = await self.case_id_of(case_id)
        tenants = principal.tenant_filter
        # An update carries the caller's tenants in its id and the case refuses a foreign caller
        # (support.case.action_ids): one round trip. An action naming staff is checked first, since its
        # names are checked against the case's tenant.
        carried = tenants is None or 0 < len(tenants) <= TENANTS_IN_ID
        tenant: str | None = None
        if not carried or action.staff_field is not None:
            tenant = await self.scope(case_id, principal)
        if action.staff_field is not None and tenant is not None:
            self._check_staff(action.staff_field, str(getattr(payload, action.staff_field)), tenant)
        taken: ActionReceipt = await self._act(
            case_id, action.update, payload, tenants=tenants, result_type=ActionReceipt
        )
        if principal.customer_side:  # the queue's facts name who holds the case: staff's, not theirs
            return taken.model_copy(update={"facts": None})
        return taken

    def seen(self, view: CaseView, principal: Principal, language: str | None = None) -> CaseView:
        """The case as this principal may see it: the customer's side never sees staff's notes, nor
        staff's names (`support.wording.names`: display names, else the policy's support name)."""
        if not principal.customer_side:
            return view
        return customer_view(view, self.names() if self.names is not None else None, language)

    def _check_staff(self, field: str, name: str, tenant: str) -> None:
        """Before the case is asked: a name the staff list does not know, or of someone who does
        not work the case's tenant, is the caller's error."""
        if self.staff is None:
            raise Unavailable("the staff list is not configured on this intake (CASEWORK_STAFF)")
        if name not in self.staff():
            raise InvalidField(field, NOT_ON_STAFF)
        if name not in self.staff(tenant):
            raise InvalidField(field, NOT_FOR_TENANT)

    async def act(
        self, case_id: str, action: BaseModel, principal: Principal = CLI_OPERATOR
    ) -> ActionReceipt:
        """Carry out `action`: the action of the table that takes its model (`perform`)."""
        return await self.perform(OF_MODEL[type(action)], case_id, action, principal)

    async def receive_reply(self, case_id: str, reply: CustomerReply) -> ActionReceipt:
        """A customer's email reply, from the inbound mail (which checked the sender). Exactly once:
        the update id is `reply-<message_id>` (the same mail sent twice at once is one update) and
        the case refuses a message it already has with a reason starting with
        `support.rules.customer_replies.ALREADY_RECEIVED`. Raises CaseNotFound, ActionRejected (the
        case's reason: closed, already received) or Unavailable (try again later)."""
        for attempt in range(REPLY_ATTEMPTS):
            try:
                taken: ActionReceipt = await self._act(
                    case_id,
                    action_of(reply).update,
                    reply,
                    update_id=f"reply-{reply.message_id}",
                    result_type=ActionReceipt,
                )
                return taken
            except ActionRejected as error:
                if MOVING_MARK not in str(error):
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))  # the case settles into its next run
        raise Unavailable(f"case {case_id} is moving to a new run; deliver the reply again shortly")

    async def follow_up(self, case_id: str, reply: CustomerReply) -> OpenedCase | None:
        """A reply a closed case refused (its reopen window is over): a new case that follows it,
        at its last severity under today's policy (`support.rules.customer_replies.follow_up_request`);
        None when the case is not closed. The same reply again finds the same new case."""
        view = await self.show(case_id)
        try:
            async for event in self._handle(case_id).fetch_history_events(page_size=1):
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [start] = await self._client.data_converter.decode(payloads, [CaseStart])
                break
            else:
                raise CaseNotFound(f"no case {case_id!r}")
        except RPCError as error:
            raise _rpc_error(error, case_id) from None
        assert isinstance(start, CaseStart)
        request = follow_up_request(start.request, view, reply)
        if request is None:
            return None
        return await self.open(request, CLI_OPERATOR, follows=view.ref)

    async def verify(
        self, case_id: str, attempt: VerificationAttempt, principal: Principal = CLI_OPERATOR
    ) -> VerificationResult:
        if not principal.allows(Permission.CUSTOMER_ACTION):
            raise Forbidden(f"a {principal.role.value} key cannot verify a caller")
        case_id = await self.case_id_of(case_id)
        await self.scope(case_id, principal)
        if self.verification is None:
            raise Unavailable("phone verification is not configured on this intake")
        try:
            caller = await case_caller(self._client, case_id)
        except RPCError as error:
            raise _rpc_error(error, case_id) from None

        async def send(sealed: SealedAttempt) -> VerificationResult:
            result: VerificationResult = await self._act(
                case_id, SupportCaseWorkflow.verify, sealed, answers_view=False
            )
            return result

        return await self.verification.attempt(
            case_id, caller.tenant_id, caller.caller_number, attempt.code, send
        )

    async def _act(
        self,
        case_id: str,
        update: object,
        action: BaseModel,
        update_id: str | None = None,
        answers_view: bool = True,
        tenants: tuple[str, ...] | None = None,
        result_type: type | None = None,
    ) -> Any:
        """`update` is an update of the workflow: its name (from the action table, answering
        `result_type`) or its method (`verify`).

        Sent again with the same update id while the case cannot be reached (a worker restarting),
        until it answers or `action_wait` and `ACTION_SETTLE` have passed: Temporal takes an update
        id once, so the action lands once; the case refuses it after `action_wait` (the instant is
        in the id), so `Unavailable` means it was not carried out. `update_id` given (a reply's,
        which its sender delivers again when told to wait): one attempt, `Unavailable` when the
        case cannot be reached. An attempt whose answer is late asks whether the case took the
        update (its message may still be being kept: `workflows.thread_writes`): when it did, the
        action was carried out, and the answer is a receipt of the case as it stands (`answers_view`;
        the clocks the action moved are not known then), never
        "send it again", which would carry it out twice. `tenants`: the caller's (None: every
        tenant), carried in the update id: a case of another tenant is not found, as a missing one."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        waits = update_id is None
        if update_id is None:
            take_until = await self._case_clock() + self._action_wait
            update_id = action_update_id(uuid.uuid4().hex, take_until, tenants)
        give_up = started + (self._action_wait + ACTION_SETTLE).total_seconds() if waits else started
        handle = self._handle(case_id)
        pause, attempts = 0.2, 0
        while True:
            attempts += 1
            # each attempt short: an update the server forgot (its registry is dropped when the
            # case's task times out on a dead worker) is admitted again by the next attempt
            left = min(max(give_up - loop.time(), 0.5), ACTION_ATTEMPT.total_seconds()) if waits else None
            left = ACTION_ATTEMPT.total_seconds() if left is None else left
            try:
                result = await asyncio.wait_for(
                    handle.execute_update(
                        cast(Any, update),
                        action,
                        id=update_id,
                        rpc_timeout=timedelta(seconds=left),
                        result_type=result_type,
                    ),
                    left,
                )
                if isinstance(result, CaseView):
                    await self._projected(result)
                elif isinstance(result, ActionReceipt) and result.facts is not None:
                    await self._refreshed(case_id, result.facts)
                if attempts > 1:
                    log.info(
                        "action taken after the case was unreachable",
                        case_id=case_id,
                        waited_s=round(loop.time() - started, 1),
                        attempts=attempts,
                    )
                return result
            except WorkflowUpdateFailedError as error:
                return await self._refused(error, handle, case_id, loop.time() - started, answers_view)
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                # not answered yet: not taken (a worker being replaced, or none runs), or taken and
                # still keeping its message (the database slow): ask which before sending it again
                if await self._taken(handle, update, action, update_id):
                    log.warning("action taken; its answer is late", case_id=case_id, attempts=attempts)
                    if answers_view:
                        try:
                            view = await handle.query(SupportCaseWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
                            return _standing(view)
                        except (RPCError, WorkflowQueryFailedError):
                            pass
                    raise ActionTakenLate(
                        f"case {case_id} took the action and is still recording it: it was carried "
                        "out; read the case for its outcome, and do not send it again"
                    ) from None
            except RPCError as error:
                if error.status not in _UNREACHABLE and not await self._running(error, case_id):
                    raise await self._not_running(error, case_id, tenants) from None
            if loop.time() + pause >= give_up:
                log.warning(
                    "action not taken: the case could not be reached",
                    case_id=case_id,
                    waited_s=round(loop.time() - started, 1),
                    attempts=attempts,
                )
                if not waits:
                    raise Unavailable(f"case {case_id} could not be reached; send it again shortly")
                raise Unavailable(
                    f"case {case_id} could not be reached within {self._action_wait.total_seconds():.0f} s "
                    "(a worker is restarting, or none is running); the action was not carried out: "
                    "send it again"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def _refused(
        self,
        error: WorkflowUpdateFailedError,
        handle: WorkflowHandle[Any, Any],
        case_id: str,
        waited_s: float,
        answers_view: bool,
    ) -> Any:
        """What the case's refusal of an update means to the caller: a missing (or foreign) case,
        an action it took already (carried out once: the case as it stands, when a view is
        answered), an action sent too late to be taken, or the case's own reason."""
        cause = error.cause
        reason = cause.message if isinstance(cause, FailureError) else str(cause or error)
        if reason == NO_SUCH_CASE:
            raise CaseNotFound(f"no case {case_id!r}") from None
        if reason == ALREADY_TAKEN:  # taken in an earlier run of the case: carried out once
            if answers_view:
                return _standing(await handle.query(SupportCaseWorkflow.view, rpc_timeout=QUERY_TIMEOUT))
            raise ActionTakenLate(f"case {case_id} took the action already: do not send it again") from None
        if reason == TOO_LATE:
            if waited_s < self._action_wait.total_seconds():
                # refused as too late before its time on this host: the clocks disagree
                log.error(
                    "action refused as too late at once: this host's clock and the Temporal "
                    "server's disagree by more than the action wait; synchronise them (NTP)",
                    case_id=case_id,
                    action_wait_s=self._action_wait.total_seconds(),
                )
            raise Unavailable(f"case {case_id}: {TOO_LATE}") from None
        raise ActionRejected(reason) from None

    async def _taken(
        self, handle: WorkflowHandle[Any, Any], update: object, action: BaseModel, update_id: str
    ) -> bool:
        """Whether the case has taken (accepted) the update of this id: asked with the same id, so
        an update not yet taken is admitted once more, as a retry would be."""
        try:
            await handle.start_update(
                cast(Any, update),
                action,
                id=update_id,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                rpc_timeout=TAKEN_ASK,
            )
        except (WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
            return False  # refused (then the next attempt says why), or not taken yet
        return True

    async def _running(self, error: RPCError, case_id: str) -> bool:
        """An update refused as not found (or not possible) by a case that is still running: its
        update was lost with the worker's task (the server forgets updates not yet taken when it
        reloads the case), so sending it again is safe."""
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return False
        try:
            description = await self._handle(case_id).describe()
        except RPCError:
            return False
        return description.status is WorkflowExecutionStatus.RUNNING

    async def _not_running(
        self, error: RPCError, case_id: str, tenants: tuple[str, ...] | None = None
    ) -> Exception:
        """A case that has ended refuses actions (409); one that never existed, or of a tenant the
        caller does not act for (`tenants`; None: every tenant), is not found (404)."""
        if error.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            return _rpc_error(error, case_id)
        try:
            description = await self._handle(case_id).describe()
        except RPCError as again:
            return _rpc_error(again, case_id)
        if tenants is not None and description.typed_search_attributes.get(sa.TENANT_ID) not in tenants:
            return CaseNotFound(f"no case {case_id!r}")
        status = description.status.name.lower() if description.status else "closed"
        return ActionRejected(f"the case {case_id} has ended ({status}); it takes no more actions")


# The gateway as the composition root hands it to the API and the CLI: the same `Cases` on every
# call, connected to Temporal on the first (raising `adapters.temporal.TemporalUnavailable` when
# Temporal cannot be reached; the next call tries again).
CasesSource = Callable[[], Awaitable[Cases]]

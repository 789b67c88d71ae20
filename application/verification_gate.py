"""The intake's side of phone verification: seal the code, and limit wrong codes per caller.

A submitted code never goes to the case in clear: `seal` turns it into its MAC under the
server-side key (`adapters.secrets.verification_key`, the same key the worker's sending activity
uses), and the case compares MACs. Wrong codes are counted per (tenant, caller number) across
requests in the database (the number kept as a MAC, never in clear), and per tenant: at
`CASEWORK_VERIFICATION_FAILURES_PER_HOUR` (10) in an hour the pair is locked, at
`CASEWORK_VERIFICATION_FAILURES_PER_TENANT` (50) every caller of the tenant: attempts are refused
here, before they reach a case (`VerificationLocked`, answer 429 with `Retry-After`), and the
worker sends no fresh code to that caller (a new request is refused `verification_locked`).

Use (in `Cases.verify`, with the case's tenant and caller number, e.g. from `case_caller`):

    gate = bootstrap.gateway.verification_gate(settings, engine)  # the composition root builds it
    result = await gate.attempt(
        case_id, tenant_id, caller_number, attempt.code,
        lambda sealed: self._act(case_id, SupportCaseWorkflow.verify, sealed),
    )  # raises VerificationLocked(retry_after_seconds)

`attempt` counts the try before it is checked and takes it back when the code was right or the
case did not check it (expired, refused the update, unreachable), so concurrent tries cannot go
past the limit. `check` and `record_failure` are the two halves, for a caller that composes them
itself (then tries running at the same time can each pass `check` before any is recorded).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from temporalio.client import Client

from adapters.directory_store import VerificationFailures
from application.errors import EXIT_REJECTED, FrontError
from support.identity.verification import SealedAttempt, VerificationResult, caller_mac, requester_mac, seal
from workflows.support_case import CaseStart

__all__ = ["CaseCaller", "VerificationGate", "VerificationLocked", "case_caller"]

WINDOW = timedelta(hours=1)


class VerificationLocked(FrontError):
    """Too many wrong codes from this caller of this tenant: refused without reaching the case.
    HTTP: 429 with `Retry-After: <retry_after_seconds>`."""

    status, code, exit_code = 429, "verification_locked", EXIT_REJECTED

    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, math.ceil(retry_after_seconds / 60))
        super().__init__(
            f"too many wrong codes from this number (or from this tenant's numbers together); "
            f"try again in {minutes} minutes"
        )
        self.retry_after_seconds = self.retry_after = retry_after_seconds


class CaseCaller(BaseModel):
    """Whose case it is, for the limits: the tenant and the number the call came from."""

    tenant_id: str
    caller_number: str | None


class VerificationGate:
    def __init__(self, key: bytes, failures: VerificationFailures) -> None:
        """`key`: the server-side verification key; `failures`: the wrong codes counted in the
        database, in windows of `WINDOW` (`bootstrap.gateway.verification_gate` wires both)."""
        self._key = key
        self._failures = failures

    def requester_key(self, tenant_id: str, requester: str) -> str:
        """The RequesterKey search attribute of a tenant's requester (a sign-in name, compared
        without case): staff can list one person's cases, and nobody reads the name from Temporal."""
        return requester_mac(self._key, tenant_id, requester)

    def seal(self, case_id: str, code: str) -> SealedAttempt:
        """The `verify` update's input for this code: its MAC, never the code."""
        return seal(self._key, case_id, code)

    async def check(self, tenant_id: str, caller_number: str) -> None:
        """Raise `VerificationLocked` when this caller of this tenant may not try a code now."""
        locked = await asyncio.to_thread(
            self._failures.locked_for, tenant_id, self._caller(tenant_id, caller_number), _now()
        )
        if locked is not None:
            raise VerificationLocked(_seconds(locked))

    async def record_failure(self, tenant_id: str, caller_number: str) -> None:
        """Count one wrong code of this caller of this tenant."""
        await asyncio.to_thread(
            self._failures.record, tenant_id, self._caller(tenant_id, caller_number), _now()
        )

    async def attempt(
        self,
        case_id: str,
        tenant_id: str,
        caller_number: str | None,
        code: str,
        send: Callable[[SealedAttempt], Awaitable[VerificationResult]],
    ) -> VerificationResult:
        """Check, seal, `send` the sealed attempt to the case, count it when wrong: the whole
        intake side of one try. Raises `VerificationLocked` (nothing sent), or what `send` raises.
        A case with no caller number (not phone intake) has no caller limit."""
        sealed = self.seal(case_id, code)
        if caller_number is None:
            return await send(sealed)
        caller = self._caller(tenant_id, caller_number)
        locked = await asyncio.to_thread(self._failures.reserve, tenant_id, caller, _now())
        if locked is not None:
            raise VerificationLocked(_seconds(locked))
        wrong = False
        try:
            result = await send(sealed)
            wrong = not result.verified and result.status in ("pending", "locked")
            return result
        finally:
            if not wrong:
                await asyncio.shield(asyncio.to_thread(self._failures.release, tenant_id, caller))

    def _caller(self, tenant_id: str, caller_number: str) -> str:
        return caller_mac(self._key, tenant_id, caller_number)


async def case_caller(client: Client, case_id: str) -> CaseCaller:
    """The tenant and caller number of a case, from its start input (the first event of its
    history, decoded with the client's converter and codec). Raises what the client raises for
    an unknown case (`RPCError` NOT_FOUND)."""
    handle = client.get_workflow_handle(case_id)
    async for event in handle.fetch_history_events(page_size=1):
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        [start] = await client.data_converter.decode(payloads, [CaseStart])
        assert isinstance(start, CaseStart)
        return CaseCaller(tenant_id=start.request.tenant_id, caller_number=start.request.caller_number)
    raise LookupError(f"no history for {case_id!r}")


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(period: timedelta) -> int:
    return max(1, math.ceil(period.total_seconds()))

"""Load what a case is decided on: the policy snapshot and the facts from the directory."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.directory_store import DirectoryStore
from adapters.policy_file import load_policy_version
from adapters.policy_versions import PolicyVersions
from support.case.context import CaseContext
from support.policies.policy import Policy, PolicyError


class ContextRequest(BaseModel):
    tenant_id: str
    requester: str
    opened_at: datetime
    caller_number: str | None = None
    service: str | None = None


class CaseContextActivities:
    """Reads policy.toml on every case (edits apply to new cases) and the directory database."""

    def __init__(
        self, policy_path: Path, store: DirectoryStore, versions: PolicyVersions | None = None
    ) -> None:
        """`versions`: where each policy version loaded is put on record (once per process)."""
        self._policy_path = policy_path
        self._store = store
        self._versions = versions

    @activity.defn(name="load_case_context")
    async def load_case_context(self, request: ContextRequest) -> CaseContext:
        try:
            loaded = load_policy_version(self._policy_path, request.opened_at.year)
            if self._versions is not None:
                await asyncio.to_thread(self._versions.record, loaded.digest, loaded.snapshot, loaded.text)
            context = await asyncio.to_thread(self._facts, loaded.snapshot, request)
            return context.model_copy(update={"policy_digest": loaded.digest})
        except (PolicyError, OSError, SQLAlchemyError) as error:
            # Retryable on purpose: the case waits (visible as pending) until an operator fixes the
            # file or the database, instead of being lost.
            activity.logger.error("case context unavailable: %s", type(error).__name__)
            raise ApplicationError(str(error).splitlines()[0], type="ContextUnavailable") from None

    def _facts(self, policy: Policy, request: ContextRequest) -> CaseContext:
        store = self._store
        tenant = store.tenant(request.tenant_id)
        if tenant is None:
            return CaseContext(policy=policy, tenant=None)
        caller_registered = None
        if request.caller_number is not None:
            caller_registered = request.caller_number in store.registered(request.tenant_id, "phone")
        return CaseContext(
            policy=policy,
            tenant=tenant,
            requester_is_admin=store.is_admin(request.tenant_id, request.requester),
            caller_registered=caller_registered,
            incident=store.active_incident(request.service, request.opened_at) if request.service else None,
        )

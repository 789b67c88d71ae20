"""Load what a case is decided on: the policy snapshot and the tenant's facts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from support.country_holidays import expand_policy, snapshot_years
from support.policy import Policy, PolicyError, parse_policy
from support.tenant import DirectoryError, TenantFacts, parse_directory


class ContextRequest(BaseModel):
    tenant_id: str
    opened_at: datetime


class CaseContext(BaseModel):
    policy: Policy
    tenant: TenantFacts | None


class CaseContextActivities:
    """Reads policy.toml and the directory file on every case, so edits apply to new cases."""

    def __init__(self, policy_path: Path, directory_path: Path) -> None:
        self._policy_path = policy_path
        self._directory_path = directory_path

    @activity.defn(name="load_case_context")
    async def load_case_context(self, request: ContextRequest) -> CaseContext:
        try:
            policy = load_policy_snapshot(self._policy_path, request.opened_at.year)
            tenants = parse_directory(
                self._directory_path.read_text(encoding="utf-8"), str(self._directory_path)
            )
        except (PolicyError, DirectoryError, OSError) as error:
            # Retryable on purpose: the case waits (and is visible as pending) until an operator
            # fixes the file, instead of being lost.
            activity.logger.error("case context unavailable: %s", error)
            raise ApplicationError(str(error), type="ContextUnavailable") from None
        return CaseContext(policy=policy, tenant=tenants.get(request.tenant_id))


def load_policy_snapshot(path: Path, opened_year: int) -> Policy:
    """The policy file with country holidays written out for the years a case can reach."""
    policy = parse_policy(path.read_text(encoding="utf-8"), str(path))
    try:
        return expand_policy(policy, snapshot_years(opened_year))
    except ValueError as error:
        raise PolicyError(f"{path}: {error}") from None

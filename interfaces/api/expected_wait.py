"""`GET /intake/expected-wait`: the first-response wait a case opened now would get.

The customer's portal (and the console's "Contact support" panel) shows it before the customer
submits. The answer is `support.sla_clocks.expected_wait` over the current policy file and the tenant's
directory entry. Only keys that may open cases may ask (portal and phone keys for their tenants,
operators); another tenant is a 403, as opening a case for it is.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from adapters.directory_store import DirectoryStore
from adapters.policy_file import load_policy_snapshot
from application.cases import CaseNotFound, Forbidden
from support.identity.access import Permission, Principal
from support.policies.vocabulary import Category, Severity
from support.sla_clocks.expected_wait import ExpectedWait, expected_wait
from support.wording.text_shapes import TENANT_ID_PATTERN

PATH = "/intake/expected-wait"


class ExpectedWaits:
    """The computation with what it reads: the policy file and the tenant directory."""

    def __init__(self, policy_path: Path, directory: DirectoryStore) -> None:
        self._policy_path = policy_path
        self._directory = directory

    async def answer(
        self, principal: Principal, tenant_id: str, category: Category, severity: Severity
    ) -> ExpectedWait:
        """Role and tenant checked first; an unknown tenant is 404 (to a key that may see it)."""
        if not principal.allows(Permission.OPEN_CASE):
            raise Forbidden(f"a {principal.role.value} key cannot open cases, so has no expected wait")
        if not principal.sees(tenant_id):
            raise Forbidden(f"this key does not act for tenant {tenant_id!r}")
        tenant = await asyncio.to_thread(self._directory.tenant, tenant_id)
        if tenant is None:
            raise CaseNotFound(f"no tenant {tenant_id!r} in the directory")
        now = datetime.now(UTC)
        policy = await asyncio.to_thread(load_policy_snapshot, self._policy_path, now.year)
        return expected_wait(policy, tenant_id, tenant, category, severity, now)

    async def tenant_zone(self, tenant_id: str) -> str | None:
        """The tenant's own zone (the directory's), in which its people read times; None if unknown."""
        tenant = await asyncio.to_thread(self._directory.tenant, tenant_id)
        return tenant.time_zone if tenant is not None else None


def expected_wait_router(waits: ExpectedWaits) -> APIRouter:
    """The route, for the API app (its guard has set the principal; its handlers shape errors)."""
    router = APIRouter()

    @router.get(
        PATH,
        response_model=ExpectedWait,
        responses={
            401: {"description": "missing or wrong bearer token"},
            403: {"description": "this key's role or tenants do not allow it"},
            404: {"description": "no such tenant"},
            422: {"description": "invalid input, one entry per field"},
        },
    )
    async def expected_wait_endpoint(
        request: Request,
        tenant: Annotated[str, Query(pattern=TENANT_ID_PATTERN, max_length=64)],
        category: Category,
        severity: Severity,
    ) -> ExpectedWait:
        """The first-response deadline and wait a case of this tenant, category and severity would
        get if opened now, the severity it would get (capped by category and agreement), and
        whether support works its calendar now. Needs `open_case` (portal and phone keys for their
        tenants, operators)."""
        principal: Principal = request.state.principal
        return await waits.answer(principal, tenant, category, severity)

    return router

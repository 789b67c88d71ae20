"""Listing cases by search attributes, on the dev server (visibility needs the real server)."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from intake.cases import Cases, CaseSummary
from support.vocabulary import CaseStatus, Category, Severity
from tests.conftest import running_worker
from tests.requests import case_request


async def _eventually(
    query: object, expected: set[str], cases: Cases, **filters: object
) -> list[CaseSummary]:
    """Visibility is eventually consistent: ask again for a short while."""
    found: list[CaseSummary] = []
    for _ in range(50):
        found = await cases.list(**filters)  # type: ignore[arg-type]
        if expected <= {c.case_id for c in found}:
            return found
        await asyncio.sleep(0.1)
    return found


async def test_list_filters_by_status_severity_category_and_tenant(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(dev_env.client, settings) as cases:
        a = (await cases.open(case_request(request_id + "-a", severity="A"))).case.case_id
        c = (await cases.open(case_request(request_id + "-c", severity="C", category="billing"))).case.case_id
        f = (await cases.open(case_request(request_id + "-f", "fabrikam", severity="B"))).case.case_id

        billing = await _eventually(
            None, {c}, cases, category=Category.BILLING, status=CaseStatus.AWAITING_FIRST_RESPONSE
        )
        critical = await _eventually(None, {a}, cases, severity=Severity.A)
        fabrikam = await _eventually(None, {f}, cases, tenant_id="fabrikam")

    assert {x.case_id for x in billing} == {c}
    assert {x.case_id for x in critical} == {a}
    assert {x.case_id for x in fabrikam} == {f}
    summary = critical[0]
    assert summary.status == "awaiting_first_response" and summary.tenant_id == "contoso"
    assert summary.first_response_due is not None and summary.sla_breached is False

"""Listing cases by search attributes, on the dev server (visibility needs the real server)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowExecution
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from application.case_listing import (
    OPEN_STATUSES,
    BadCursor,
    CaseFilter,
    CaseSummary,
    ListOrder,
    list_page,
    query_of,
    summary_of,
)
from application.cases import Cases, InvalidField
from support.case.actions import FirstResponse
from support.case.next_deadline import NO_DEADLINE_AT
from support.identity.access import CLI_OPERATOR
from support.policies.vocabulary import CaseStatus, Category, Severity
from tests.conftest import running_worker
from tests.requests import case_request
from tests.system.test_api import Api, api, as_key, body, case_of  # noqa: F401  (the api fixture)
from workflows import search_attributes as sa


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


async def _every_page(cases: Cases, **page: object) -> list[CaseSummary]:
    """The whole listing, page by page through its cursors."""
    rows: list[CaseSummary] = []
    cursor: str | None = None
    while True:
        got = await cases.page(**page, cursor=cursor)  # type: ignore[arg-type]
        rows += got.cases
        if got.next_cursor is None:
            return rows
        cursor = got.next_cursor


async def _settled(
    cases: Cases, settled: Callable[[list[CaseSummary]], bool], **page: object
) -> list[CaseSummary]:
    """The whole listing once `settled` holds for it (visibility is eventually consistent)."""
    rows: list[CaseSummary] = []
    for _ in range(50):
        rows = await _every_page(cases, **page)
        if settled(rows):
            return rows
        await asyncio.sleep(0.1)
    return rows


def _deadlines_are(expected: dict[str, datetime | None]) -> Callable[[list[CaseSummary]], bool]:
    """Every expected case is listed with the next deadline it published last."""

    def settled(rows: list[CaseSummary]) -> bool:
        listed = {r.case_id: r.next_deadline for r in rows}
        return all(listed.get(case) == due for case, due in expected.items())

    return settled


async def test_deadline_order_pages_by_the_time_left_to_each_cases_next_deadline(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    """Issue 16: the queue's order as data. Severity A's first response is due in an hour, C's in
    days; an answered A case's next deadline is its customer update. Pages of one, through the
    cursor, give every case once, least time left first."""
    async with running_worker(dev_env.client, settings) as cases:
        opened = {
            severity: (await cases.open(case_request(f"{request_id}-{severity}", severity=severity))).case
            for severity in ("A", "B", "C")
        }
        answered = (await cases.open(case_request(f"{request_id}-answered", severity="A"))).case.case_id
        await cases.act(answered, FirstResponse(engineer="li.wei", message="Looking at it"))
        view = await cases.show(answered)  # an action answers a receipt (issue 26)
        assert view.customer_update is not None and view.customer_update.due is not None
        wanted = CaseFilter()  # the deadline order lists the open cases
        expected = {c.case_id: c.first_response.due for c in opened.values() if c.first_response}
        expected[answered] = view.customer_update.due
        assert None not in expected.values()
        settled = _deadlines_are(expected)
        rows = await _settled(cases, settled, wanted=wanted, order=ListOrder.DEADLINE, limit=1)

        deadlines = [r.next_deadline for r in rows]
        assert None not in deadlines and deadlines == sorted(deadlines)  # type: ignore[type-var]
        assert len(rows) == len(expected), "each case once across the pages"
        by_id = {r.case_id: r for r in rows}
        for case in opened.values():
            assert by_id[case.case_id].next_deadline == case.first_response.due  # type: ignore[union-attr]
        assert by_id[answered].next_deadline == view.customer_update.due
        assert rows[0].case_id == opened["A"].case_id and rows[-1].case_id == opened["C"].case_id

        first = await cases.page(wanted, order=ListOrder.DEADLINE, limit=1)
        with pytest.raises(InvalidField, match="other filters"):
            other = CaseFilter(severity=Severity.A)
            await cases.page(other, order=ListOrder.DEADLINE, cursor=first.next_cursor)


async def test_newest_first_pages_through_the_servers_cursor_and_a_requester_is_found_by_digest(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(dev_env.client, settings) as cases:
        mine = [(await cases.open(case_request(f"{request_id}-{n}"))).case.case_id for n in range(3)]
        other = await cases.open(case_request(f"{request_id}-other", requester="staff@contoso.example"))
        everyone = set(mine) | {other.case.case_id}

        def all_listed(rows: list[CaseSummary]) -> bool:
            # Each case once: the refused case's run ends while the test pages, and a run that
            # closes between two pages moves in visibility's order (closed runs sort by their close
            # time), so a pass made at that instant can meet it twice; the next pass does not.
            return len(rows) == len(everyone) and {r.case_id for r in rows} == everyone

        rows = await _settled(cases, all_listed, wanted=CaseFilter(), limit=1)
        assert len(rows) == len(everyone) and {r.case_id for r in rows} == everyone

        found = await cases.page(CaseFilter(tenant_id="contoso"), requester="ADMIN@contoso.example")
        assert {r.case_id for r in found.cases} == set(mine), "the sign-in name matches without case"
        with pytest.raises(InvalidField, match="tenant"):
            await cases.page(CaseFilter(), requester="admin@contoso.example")
        description = await dev_env.client.get_workflow_handle(mine[0]).describe()
        stored = str(description.raw_description.workflow_execution_info.search_attributes)
        assert "admin@contoso" not in stored, "the requester's name is never a search attribute"


async def test_the_api_names_the_next_page_in_its_link_header(
    api: Api,  # noqa: F811  (the fixture imported above)
    request_id: str,
) -> None:
    http, agent = api.client, as_key("li.wei")
    for n in range(3):
        assert (await http.post("/cases", json=body(f"{request_id}-{n}"))).status_code == 201
    seen: list[str] = []
    for _ in range(50):
        seen, url = [], "/cases?order=deadline&status=awaiting_first_response&limit=2"
        while url:
            page = await http.get(url, headers=agent)
            assert page.status_code == 200, page.text
            seen += [row["case_id"] for row in page.json()]
            link = page.headers.get("Link")
            assert (link is None) == ("Next-Cursor" not in page.headers)
            url = link[1 : link.index(">")] if link else ""
        if len(seen) == 3:
            break
        await asyncio.sleep(0.1)
    assert sorted(seen) == sorted(case_of(f"{request_id}-{n}") for n in range(3))
    bad = await http.get("/cases", params={"order": "deadline", "cursor": "not-a-cursor"}, headers=agent)
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "query.cursor", bad.text


def test_a_run_from_before_the_attribute_is_ordered_by_its_first_response_while_awaited() -> None:
    """Cases whose runs started before NextDeadline existed replay without it until they continue
    as new: the listing counts their first-response due time while it is awaited."""
    due = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    later = due + timedelta(hours=4)

    def row(status: str, next_deadline: datetime | None = None) -> CaseSummary:
        pairs: list[SearchAttributePair[Any]] = [
            SearchAttributePair(sa.CASE_STATUS, status),
            SearchAttributePair(sa.FIRST_RESPONSE_DUE, due),
        ]
        if next_deadline is not None:
            pairs.append(SearchAttributePair(sa.NEXT_DEADLINE, next_deadline))
        attributes = TypedSearchAttributes(pairs)
        execution = SimpleNamespace(id="case-x", typed_search_attributes=attributes, start_time=due)
        return summary_of(cast(WorkflowExecution, execution), staff_side=True)

    assert row("awaiting_first_response").next_deadline == due, "an old run: its first response"
    assert row("in_progress").next_deadline is None, "an old run once answered: not known, last"
    assert row("in_progress", later).next_deadline == later, "the published one"
    assert row("resolved", NO_DEADLINE_AT).next_deadline is None, "the placeholder is never shown"


async def test_a_cursor_without_a_time_zone_is_a_field_error_not_a_crash() -> None:
    first = CaseFilter()
    binding_query = query_of(dataclasses.replace(first, statuses=OPEN_STATUSES), None)
    binding = hashlib.sha256(f"{ListOrder.DEADLINE}\n{binding_query}".encode()).hexdigest()[:16]
    forged = base64.urlsafe_b64encode(
        json.dumps({"o": "deadline", "q": binding, "d": "2026-01-01", "id": "case-a"}).encode()
    ).decode()
    with pytest.raises(BadCursor):
        await list_page(cast(Client, None), first, CLI_OPERATOR, order=ListOrder.DEADLINE, cursor=forged)


async def test_a_forged_page_token_is_a_field_error(
    api: Api,  # noqa: F811  (the fixture imported above)
) -> None:
    """A cursor's binding can be recomputed by anyone; the server's page token inside it cannot be
    forged: the server refuses it, and the caller gets a field error, not a 400 from Temporal."""
    query = query_of(CaseFilter(), None)
    binding = hashlib.sha256(f"{ListOrder.STARTED}\n{query}".encode()).hexdigest()[:16]
    token = base64.urlsafe_b64encode(b"not a page token").decode().rstrip("=")
    forged = base64.urlsafe_b64encode(
        json.dumps({"o": "started", "q": binding, "t": token}).encode()
    ).decode()
    answer = await api.client.get("/cases", params={"cursor": forged}, headers=as_key("li.wei"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"] == [{"field": "query.cursor", "message": "not a cursor of this listing"}]

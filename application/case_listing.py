"""Listing cases by their search attributes, a page at a time.

Two orders. `started` (the default) is the visibility store's own order, newest first, and its
cursor is the store's page token. `deadline` lists open cases (unless statuses are given), the one
with the least time left to its next deadline first (the `NextDeadline` attribute the case
publishes; a case whose run started before the attribute existed counts its first-response due
time while that is awaited; cases with no running deadline, waiting for the customer, come last).
Temporal's SQL visibility stores (SQLite, PostgreSQL) refuse `ORDER BY`, so this order is made
here: a keyset cursor (the last row's deadline and case id), one scan of the matching cases, and
the `limit` smallest after the cursor kept while the rest stream past. That reads every matching
case once per page: right for a queue of open cases, not for an archive. A case whose deadline
moves between two pages can show on both, or on neither (the next refresh has it).

A cursor is opaque to callers and bound to its listing: one made for other filters is refused.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import heapq
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowExecution

from support.case.next_deadline import NO_DEADLINE_AT
from support.identity.access import Principal
from support.policies.vocabulary import CaseStatus, Category, Severity
from support.wording.text_shapes import NAME_PATTERN, TENANT_ID_PATTERN, Line
from workflows import search_attributes as sa
from workflows.support_case import SupportCaseWorkflow

CURSOR_MAX = 2048  # characters of a cursor a caller may send back
_SCAN_PAGE = 1000  # rows per visibility call while a deadline page is made
OPEN_STATUSES = (CaseStatus.AWAITING_FIRST_RESPONSE, CaseStatus.IN_PROGRESS)


class ListOrder(StrEnum):
    STARTED = "started"  # newest first (the visibility store's order)
    DEADLINE = "deadline"  # least time left to the next deadline first


class CaseSummary(BaseModel):
    case_id: str
    case_number: str | None = None  # CW-10482 (the intake's numbers); none for cases from before numbers
    status: str | None
    severity: str | None
    category: str | None
    tenant_id: str | None
    first_response_due: datetime | None
    next_deadline: datetime | None = None  # the nearest open deadline; None: none runs now
    clock_paused: bool | None = None  # the running clock waits for the customer
    sla_breached: bool | None
    started_at: datetime | None
    assigned_engineer: str | None = None


class CasePage(BaseModel):
    cases: list[CaseSummary]
    next_cursor: str | None = None  # None: this was the last page


@dataclass(frozen=True)
class CaseFilter:
    """What a listing selects. Every value is an enum, an id, a staff name or a digest, so the
    query needs no escaping (each is checked against its pattern before it gets here)."""

    statuses: Sequence[CaseStatus] = ()
    severity: Severity | None = None
    category: Category | None = None
    tenant_id: str | None = None
    assignee: str | None = None
    requester_key: str | None = None


class ListRequest(BaseModel):
    """A listing as the CLI asks for it, checked as the API's query parameters are."""

    model_config = ConfigDict(extra="forbid")

    status: CaseStatus | None = None
    severity: Severity | None = None
    category: Category | None = None
    tenant: str | None = Field(default=None, pattern=TENANT_ID_PATTERN)
    assignee: str | None = Field(default=None, pattern=NAME_PATTERN)
    requester: Line | None = None
    order: ListOrder = ListOrder.STARTED
    cursor: str | None = Field(default=None, max_length=CURSOR_MAX)
    limit: int = Field(default=100, ge=1, le=1000)

    def filter(self) -> CaseFilter:
        return CaseFilter(
            statuses=() if self.status is None else (self.status,),
            severity=self.severity,
            category=self.category,
            tenant_id=self.tenant,
            assignee=self.assignee,
        )


class BadCursor(ValueError):
    """The cursor was not made by this listing (other filters or order), or is not a cursor."""


def query_of(wanted: CaseFilter, tenants: Sequence[str] | None) -> str:
    clauses = [f"WorkflowType = '{SupportCaseWorkflow.__name__}'"]
    if tenants is not None:
        clauses.append(f"{sa.TENANT_ID.name} IN (" + ", ".join(f"'{t}'" for t in tenants) + ")")
    if wanted.statuses:
        clauses.append(f"{sa.CASE_STATUS.name} IN (" + ", ".join(f"'{s}'" for s in wanted.statuses) + ")")
    for key, value in (
        (sa.CASE_SEVERITY, wanted.severity),
        (sa.CASE_CATEGORY, wanted.category),
        (sa.TENANT_ID, wanted.tenant_id),
        (sa.ASSIGNED_ENGINEER, wanted.assignee),
        (sa.REQUESTER_KEY, wanted.requester_key),
    ):
        if value is not None:
            clauses.append(f"{key.name} = '{value}'")
    return " AND ".join(clauses)


def _encode(fields: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, order: ListOrder, binding: str) -> dict[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor of this listing") from None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise BadCursor("not a cursor of this listing")
    if fields.get("o") != order.value or fields.get("q") != binding:
        raise BadCursor("this cursor belongs to a listing with other filters or another order")
    return fields


def summary_of(execution: WorkflowExecution, staff_side: bool) -> CaseSummary:
    attrs = execution.typed_search_attributes
    status = attrs.get(sa.CASE_STATUS)
    first_response_due = attrs.get(sa.FIRST_RESPONSE_DUE)
    published = attrs.get(sa.NEXT_DEADLINE)
    if published is None:  # a run from before the attribute: its first response, while awaited
        deadline = first_response_due if status == CaseStatus.AWAITING_FIRST_RESPONSE else None
    else:
        deadline = None if published >= NO_DEADLINE_AT else published
    return CaseSummary(
        case_id=execution.id,
        status=status,
        severity=attrs.get(sa.CASE_SEVERITY),
        category=attrs.get(sa.CASE_CATEGORY),
        tenant_id=attrs.get(sa.TENANT_ID),
        first_response_due=first_response_due,
        next_deadline=deadline,
        clock_paused=attrs.get(sa.CLOCK_PAUSED),
        sla_breached=attrs.get(sa.SLA_BREACHED),
        assigned_engineer=attrs.get(sa.ASSIGNED_ENGINEER) if staff_side else None,
        started_at=execution.start_time,
    )


async def list_page(
    client: Client,
    wanted: CaseFilter,
    principal: Principal,
    *,
    order: ListOrder = ListOrder.STARTED,
    cursor: str | None = None,
    limit: int = 100,
) -> CasePage:
    """One page of the principal's cases that match `wanted`, in `order`. Raises BadCursor and
    the client's RPCError."""
    if order is ListOrder.DEADLINE and not wanted.statuses:
        wanted = dataclasses.replace(wanted, statuses=OPEN_STATUSES)  # only open cases have deadlines
    tenants = principal.tenant_filter
    query = query_of(wanted, None if tenants is None else sorted(tenants))
    binding = hashlib.sha256(f"{order}\n{query}".encode()).hexdigest()[:16]
    fields = _decode(cursor, order, binding) if cursor else {}
    staff_side = not principal.customer_side
    if order is ListOrder.STARTED:
        return await _started_page(client, query, binding, fields.get("t"), limit, staff_side)
    return await _deadline_page(client, query, binding, fields, limit, staff_side)


async def _started_page(
    client: Client, query: str, binding: str, token: str | None, limit: int, staff_side: bool
) -> CasePage:
    try:
        page_token = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) if token else None
    except ValueError:
        raise BadCursor("not a cursor of this listing") from None
    listing = client.list_workflows(query, page_size=limit, next_page_token=page_token)
    await listing.fetch_next_page(page_size=limit)
    rows = [summary_of(execution, staff_side) for execution in listing.current_page or []]
    following = listing.next_page_token
    next_cursor = None
    if following:
        encoded = base64.urlsafe_b64encode(following).decode().rstrip("=")
        next_cursor = _encode({"o": ListOrder.STARTED.value, "q": binding, "t": encoded})
    return CasePage(cases=rows, next_cursor=next_cursor)


async def _deadline_page(
    client: Client, query: str, binding: str, fields: dict[str, str], limit: int, staff_side: bool
) -> CasePage:
    after: tuple[datetime, str] | None = None
    if fields:
        try:
            after = (datetime.fromisoformat(fields["d"]), fields["id"])
        except (KeyError, ValueError):
            raise BadCursor("not a cursor of this listing") from None
        if after[0].tzinfo is None:
            raise BadCursor("not a cursor of this listing")

    def key(row: CaseSummary) -> tuple[datetime, str]:
        return (row.next_deadline or NO_DEADLINE_AT, row.case_id)

    kept: list[_Largest] = []  # the limit + 1 smallest so far (one more tells a next page exists)
    async for execution in client.list_workflows(query, page_size=_SCAN_PAGE):
        row = summary_of(execution, staff_side)
        if after is not None and key(row) <= after:
            continue  # on an earlier page
        entry = _Largest(key(row), row)
        if len(kept) <= limit:
            heapq.heappush(kept, entry)
        elif entry.key < kept[0].key:
            heapq.heapreplace(kept, entry)
    ordered = [(entry.key, entry.row) for entry in sorted(kept, key=lambda entry: entry.key)]
    rows = [row for _, row in ordered[:limit]]
    next_cursor = None
    if len(ordered) > limit:
        last_deadline, last_id = ordered[limit - 1][0]
        next_cursor = _encode(
            {"o": ListOrder.DEADLINE.value, "q": binding, "d": last_deadline.isoformat(), "id": last_id}
        )
    return CasePage(cases=rows, next_cursor=next_cursor)


@dataclass(frozen=True)
class _Largest:
    """A heap entry whose heap keeps the largest key on top: the first to give way."""

    key: tuple[datetime, str]
    row: CaseSummary

    def __lt__(self, other: _Largest) -> bool:
        return self.key > other.key

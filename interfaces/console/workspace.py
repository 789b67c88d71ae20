"""The engineer's workspace: the queue's views with their counts, search, pages and bulk actions.

Every page reads the console's projection (adapters.console_cases), never Temporal, so a view of
5,000 open cases is an indexed query. Each view is scoped as the API's listing is: a customer's key
sees its tenants' cases, and neither the staff-only views (mine, unassigned, my team's) nor who holds
a case. Bulk actions send each chosen case through the same gateway call, rules and checks as the
case page's single action (`Cases.perform`), and say per case what happened, in the reader's words.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.codec import SealError, key_ring_from_env
from adapters.console_cases import STAFF_VIEWS, ConsoleCases, Reader, View
from adapters.settings import Settings
from adapters.staff import StaffFileError, load_staff
from application.actions import ACTIONS
from application.cases import ActionRejected, CaseNotFound, Cases, Forbidden, InvalidField, Unavailable
from interfaces.console.queue import QUEUE_STATUSES, entries_of
from interfaces.console.session import Session
from support.identity.access import Permission, Principal
from support.policies.policy import Policy
from support.policies.vocabulary import CaseStatus, Severity, Via
from support.wording.text_shapes import TENANT_ID_PATTERN
from support.wording.validation import field_errors

PREFIX = "/console"
BULK_ACTIONS = ("assign", "resolve")
BULK_MAX = 100  # cases one bulk action may carry
SEARCH_MAX = 200  # characters of a search
_TENANT = re.compile(TENANT_ID_PATTERN)
Text = Annotated[str | None, Query(max_length=SEARCH_MAX)]


@dataclass(frozen=True)
class Pages:
    """What the console app lends its pages (interfaces.console.app): sign-in, rendering, forms."""

    settings: Settings
    engine: Engine
    signed_in: Callable[[Request], Awaitable[Session]]
    render: Callable[..., HTMLResponse]
    reader_zone: Callable[[Session, str | None], Awaitable[str]]
    read_form: Callable[[Request, Session | None], Awaitable[dict[str, str]]]
    get_cases: Callable[[], Awaitable[Cases]]
    policy_now: Callable[[], Awaitable[Policy]]


@dataclass(frozen=True)
class Chosen:
    view: View
    search: str
    page: int
    severity: str | None
    tenant: str | None
    status: str | None


def reader_of(principal: Principal, settings: Settings) -> Reader:
    team: list[str] = []
    if not principal.customer_side:
        try:
            team = load_staff(settings.staff_file).team_of(principal.name)
        except StaffFileError:
            team = [principal.name]
    return Reader(
        tenants=principal.tenant_filter,
        name=principal.name,
        team=tuple(team),
        customer_side=principal.customer_side,
    )


def default_view(principal: Principal) -> View:
    return View.OPEN


@dataclass(frozen=True)
class QueueQuery:
    """The queue's query string, bounded before it is read (the page and its htmx rows alike)."""

    view: Annotated[str | None, Query(max_length=16)] = None
    q: Text = None
    page: Annotated[str | None, Query(max_length=8)] = None
    severity: Annotated[str | None, Query(max_length=64)] = None
    tenant: Annotated[str | None, Query(max_length=64)] = None
    status: Annotated[str | None, Query(max_length=64)] = None

    def values(self) -> tuple[str | None, ...]:
        return (self.view, self.q, self.page, self.severity, self.tenant, self.status)


def chosen_of(
    principal: Principal,
    view: str | None,
    q: str | None,
    page: str | None,
    severity: str | None,
    tenant: str | None,
    status: str | None,
) -> Chosen:
    """The page's choices; a value that is not one is a field error (422), never a 500."""
    problems: list[dict[str, Any]] = []

    def problem(field: str, message: str) -> None:
        problems.append({"loc": ("query", field), "msg": message, "type": "value"})

    chosen_view = default_view(principal)
    if view:
        try:
            chosen_view = View(view)
        except ValueError:
            problem("view", "not a view")
        if principal.customer_side and chosen_view in STAFF_VIEWS:
            problem("view", "who holds a case is for staff")
    number = 1
    if page:
        if page.isdigit() and 0 < int(page) < 1_000_000:
            number = int(page)
        else:
            problem("page", "not a page number")
    if severity:
        try:
            Severity(severity)
        except ValueError:
            problem("severity", "not a severity")
    if tenant and not _TENANT.match(tenant):
        problem("tenant", "not a tenant id")
    if status:
        try:
            CaseStatus(status)
        except ValueError:
            problem("status", "not a status")
    if problems:
        raise RequestValidationError(problems)
    if status and view is None:  # a status alone chooses the view it is in
        chosen_view = View.OPEN if status in {s.value for s in QUEUE_STATUSES} else View.DONE
    return Chosen(chosen_view, (q or "").strip(), number, severity or None, tenant or None, status or None)


def install_workspace(app: FastAPI, pages: Pages) -> None:
    """The queue's routes: GET /console/queue (and /rows for htmx), POST /console/queue/bulk."""
    store = ConsoleCases(pages.engine, key_ring_from_env())

    async def context(request: Request, session: Session, chosen: Chosen) -> dict[str, Any]:
        principal = session.principal
        if not principal.allows(Permission.READ_CASES):
            raise Forbidden(f"a {principal.role.value} key cannot read cases")
        reader = reader_of(principal, pages.settings)
        now = datetime.now(UTC)
        try:
            counts, found = await asyncio.gather(
                asyncio.to_thread(store.counts, reader, now, chosen.search),
                asyncio.to_thread(
                    store.page,
                    chosen.view,
                    reader,
                    now,
                    chosen.page,
                    search=chosen.search,
                    tenant=chosen.tenant,
                    severity=chosen.severity,
                    status=chosen.status,
                ),
            )
        except (SQLAlchemyError, SealError) as error:
            raise Unavailable(f"the console's cases cannot be read: {type(error).__name__}") from None
        entries = entries_of(found.rows, await pages.policy_now(), now, not principal.customer_side)
        views = [v for v in View if not (principal.customer_side and v in STAFF_VIEWS)]
        return {
            "session": session,
            "zone": await pages.reader_zone(session, None),
            "entries": entries,
            "now": now,
            "views": views,
            "counts": {v.value: n for v, n in counts.items()},
            "view": chosen.view.value,
            "search": chosen.search,
            "page": found.page,
            "pages": found.pages,
            "total": found.total,
            "chosen": {k: getattr(chosen, k) or "" for k in ("severity", "tenant", "status")},
            "severities": [s.value for s in Severity],
            "statuses": [s.value for s in QUEUE_STATUSES],
            "query": request.url.query,
            "bulk": _bulk_choices(principal),
            "staff_names": [] if principal.customer_side else _staff_names(pages.settings),
            "results": [],
            "problems": {},
        }

    @app.get(f"{PREFIX}/queue")
    async def queue(request: Request, asked: Annotated[QueueQuery, Depends()]) -> HTMLResponse:
        session = await pages.signed_in(request)
        chosen = chosen_of(session.principal, *asked.values())
        return pages.render(request, "queue.html", **await context(request, session, chosen))

    @app.get(f"{PREFIX}/queue/rows")
    async def queue_rows(request: Request, asked: Annotated[QueueQuery, Depends()]) -> HTMLResponse:
        """The rows alone, for htmx's refresh of the table."""
        session = await pages.signed_in(request)
        chosen = chosen_of(session.principal, *asked.values())
        return pages.render(request, "queue_rows.html", **await context(request, session, chosen))

    @app.post(f"{PREFIX}/queue/bulk")
    async def bulk(request: Request) -> HTMLResponse:
        """One action on each chosen case, each through `Cases.perform` (the case page's path)."""
        session = await pages.signed_in(request)
        form = await pages.read_form(request, session)
        principal = session.principal
        name = form.get("bulk_action", "")
        chosen = chosen_of(principal, form.get("view") or None, form.get("q"), None, None, None, None)
        page_context = await context(request, session, chosen)
        picked = {key[len("pick:") :]: ref for key, ref in form.items() if key.startswith("pick:") and ref}
        problems: dict[str, str] = {}
        action = ACTIONS.get(name) if name in BULK_ACTIONS else None
        if action is None:
            problems["bulk_action"] = "choose assign or resolve"
        elif not principal.allows(action.permission):
            raise Forbidden(f"a {principal.role.value} key cannot {action.name}")
        if not picked:
            problems["pick"] = "choose at least one case"
        elif len(picked) > BULK_MAX:
            problems["pick"] = f"at most {BULK_MAX} cases at once"
        body = None
        if action is not None and not problems:
            model = action.body_model()
            fields = {k: form.get(f"{name}_{k}", "") for k in model.model_fields}
            try:
                body = model.model_validate({k: v for k, v in fields.items() if v != ""})
            except ValidationError as error:
                problems |= {f"{name}_{e['field']}": e["message"] for e in field_errors(error)}
        if problems or action is None or body is None:
            page_context |= {"problems": problems}
            return pages.render(request, "queue.html", 422, **page_context)
        cases = await pages.get_cases()
        payload = action.payload(body, principal.name, Via.CONSOLE)
        results = []
        for case_id, ref in picked.items():
            outcome, detail = "done", ""
            try:
                await cases.perform(action, case_id, payload, principal)
            except ActionRejected as error:
                outcome, detail = "refused", str(error)
            except InvalidField as error:
                outcome, detail = "refused", f"{error.field}: {error}"
            except (CaseNotFound, Forbidden):
                outcome = "not_found"
            except Unavailable:
                outcome = "unavailable"
            results.append(
                {"case_id": case_id, "ref": ref, "outcome": outcome, "detail": detail, "action": name}
            )
        page_context = await context(request, session, chosen)  # the views as they are now
        page_context |= {"results": results}
        return pages.render(request, "queue.html", **page_context)


def _bulk_choices(principal: Principal) -> list[str]:
    return [name for name in BULK_ACTIONS if principal.allows(ACTIONS[name].permission)]


def _staff_names(settings: Settings) -> list[str]:
    try:
        return sorted(m.name for m in load_staff(settings.staff_file).staff)
    except StaffFileError:
        return []

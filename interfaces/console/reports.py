"""The console's reports: first response by week over a chosen range, as a page (a chart and a
table, in the reader's zone) and as CSV (`interfaces.console.weekly`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse

from application.cases import Forbidden, InvalidField
from interfaces.console.kit import PREFIX, TENANT_ID, Console
from interfaces.console.report_range import ReportRange, report_range
from interfaces.console.session import Session
from interfaces.console.weekly import CHART_HEIGHT, Weekly, weekly, weekly_csv
from support.identity.access import Permission
from support.reporting.reports import report_tenants

Filter = Annotated[str | None, Query(max_length=64)]  # the tenant; checked in `chosen_tenant`
RangeFrom = Annotated[str | None, Query(max_length=32, alias="from")]  # a report range's first day
RangeTo = Annotated[str | None, Query(max_length=32)]  # and its last


def chosen_tenant(tenant: str | None) -> str | None:
    """The tenant filter; one that is not a tenant id is a field error, never a 500."""
    if not tenant:
        return None
    if not TENANT_ID.match(tenant):
        raise RequestValidationError(
            [{"loc": ("query", "tenant"), "msg": "not a tenant id", "type": "value"}]
        )
    return tenant


def reports_router(console: Console) -> APIRouter:
    """/console/reports and /console/reports.csv."""
    router = APIRouter()

    async def report_for(
        request: Request, tenant: str | None, first: str | None, last: str | None
    ) -> tuple[Session, str, ReportRange, Weekly | None]:
        """The range's report in the reader's zone; a bad range counts nothing (its problems)."""
        session = await console.signed_in(request)
        principal = session.principal
        if not principal.allows(Permission.READ_REPORTS):
            raise Forbidden(f"a {principal.role.value} key cannot read reports")
        tenant_id = chosen_tenant(tenant)
        zone = await console.reader_zone(session, tenant_id)
        now = datetime.now(UTC)
        chosen = report_range(first, last, zone, now)
        if chosen.window is None:
            return session, zone, chosen, None
        cases = await console.get_cases()
        scope = report_tenants(principal, tenant_id)
        report = await weekly(console.engine, cases.client, scope, now, chosen.window, zone)
        return session, zone, chosen, report

    @router.get(f"{PREFIX}/reports")
    async def reports(
        request: Request, tenant: Filter = None, from_: RangeFrom = None, to: RangeTo = None
    ) -> HTMLResponse:
        session, zone, chosen, report = await report_for(request, tenant, from_, to)
        return console.render(
            request,
            "reports.html",
            422 if chosen.problems else 200,
            session,
            zone,
            report=report,
            chosen=chosen,
            chart_height=CHART_HEIGHT,
            tenant=tenant or "",
        )

    @router.get(f"{PREFIX}/reports.csv")
    async def reports_csv(
        request: Request, tenant: Filter = None, from_: RangeFrom = None, to: RangeTo = None
    ) -> Response:
        _, _, chosen, report = await report_for(request, tenant, from_, to)
        if report is None:
            raise InvalidField("to", "; ".join(chosen.problems.values()))
        return Response(
            weekly_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="first-response-by-week.csv"'},
        )

    return router

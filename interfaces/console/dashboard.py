"""The dashboard for operators and leads: open cases by severity, at risk in the next hour,
breached today and first responses met this week, over the console's projection
(adapters.console_cases). "Today" and "this week" (from Monday) are the reader's, in their zone.
Staff only: the counts span tenants, and customers have their own pages.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError

from adapters.codec import key_ring_from_env
from adapters.console_cases import ConsoleCases
from application.cases import Forbidden, Unavailable
from interfaces.console.workspace import PREFIX, Pages, reader_of
from support.identity.access import Permission
from support.policies.vocabulary import Severity


def day_and_week(now: datetime, zone: str) -> tuple[datetime, datetime]:
    """The start of the reader's today and of their week (Monday), as instants."""
    local = now.astimezone(ZoneInfo(zone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    return day.astimezone(UTC), week.astimezone(UTC)


def install_dashboard(app: FastAPI, pages: Pages) -> None:
    store = ConsoleCases(pages.engine, key_ring_from_env())

    @app.get(f"{PREFIX}/dashboard")
    async def dashboard(request: Request) -> HTMLResponse:
        session = await pages.signed_in(request)
        principal = session.principal
        if principal.customer_side or not principal.allows(Permission.READ_CASES):
            raise Forbidden(f"a {principal.role.value} key cannot read the dashboard")
        zone = await pages.reader_zone(session, None)
        now = datetime.now(UTC)
        day, week = day_and_week(now, zone)
        try:
            board = await asyncio.to_thread(
                store.dashboard, reader_of(principal, pages.settings), now, day, week
            )
        except SQLAlchemyError as error:
            raise Unavailable(f"the console's cases cannot be read: {type(error).__name__}") from None
        return pages.render(
            request,
            "dashboard.html",
            200,
            session,
            zone,
            board=board,
            severities=[s.value for s in Severity],
            day=day,
            week=week,
        )

"""The policy what-if's routes (operators): the form, then the figures side by side and the cases
that would flip. The form is read and checked in `interfaces.console.whatif_page`; the what-if itself
is `application.whatif.build_whatif`, the same as the API's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from adapters.codec import key_ring_from_env
from application.cases import Forbidden
from application.whatif import build_whatif, whatif_phrases
from interfaces.console.kit import PREFIX, BadForm, Console
from interfaces.console.session import Session
from interfaces.console.whatif_page import (
    MAX_WHATIF_BYTES,
    FormUnreadable,
    WhatIfForm,
    checked_form,
    default_range,
    read_fields,
    rows,
)
from support.identity.access import Permission


def whatif_router(console: Console) -> APIRouter:
    """GET and POST /console/whatif."""
    router = APIRouter()

    async def operator_session(request: Request) -> Session:
        session = await console.signed_in(request)
        if not session.principal.allows(Permission.OPERATE):  # the inputs hold what customers wrote
            raise Forbidden("")
        return session

    def whatif_page(
        request: Request, status: int, session: Session, zone: str, **context: Any
    ) -> HTMLResponse:
        words = whatif_phrases(console.language(request))
        return console.render(request, "whatif.html", status, session, zone, w=words, **context)

    @router.get(f"{PREFIX}/whatif")
    async def whatif_form(request: Request) -> HTMLResponse:
        session = await operator_session(request)
        zone = await console.reader_zone(session)
        first, last = default_range(zone, datetime.now(UTC))
        policy = await asyncio.to_thread(console.settings.policy_path.read_text, encoding="utf-8")
        form = WhatIfForm(policy=policy, first=first, last=last, tenant="")
        return whatif_page(request, 200, session, zone, form=form, result=None)

    @router.post(f"{PREFIX}/whatif")
    async def whatif_run(request: Request) -> HTMLResponse:
        session = await operator_session(request)
        try:
            body = await console.read_body(request, MAX_WHATIF_BYTES)
            fields = read_fields(request.headers.get("content-type", ""), body)
        except FormUnreadable:
            raise BadForm(400, "fix_fields") from None
        console.check_csrf(session.nonce, fields)
        zone, now = await console.reader_zone(session), datetime.now(UTC)
        form = checked_form(fields, zone, now, whatif_phrases(console.language(request)))
        if form.problems or form.window is None or form.proposed is None:
            return whatif_page(request, 422, session, zone, form=form, result=None)
        cases = await console.get_cases()
        tenants = (form.tenant,) if form.tenant else None
        report = await build_whatif(
            console.engine, cases.client, form.window, tenants, form.proposed, now, key_ring_from_env()
        )
        return whatif_page(request, 200, session, zone, form=form, result=report, rows=rows(report))

    return router

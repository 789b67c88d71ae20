"""The case page's routes: the page (staff; a customer is sent to their request page), its
actions (the same gateway call and rules as the API's, `Cases.perform`), the customer's comment
box and the case's files. What the page offers is worked out in `interfaces.console.case_page`."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from application.actions import ACTIONS, CASE_ACTIONS, CaseAction
from application.case_thread import Comment
from application.cases import ActionRejected, CaseNotFound, Forbidden, InvalidField
from interfaces.console.case_page import fill_reply, obligation_words, parts_of
from interfaces.console.field_problems import field_problems
from interfaces.console.forms import model_input
from interfaces.console.i18n import Words
from interfaces.console.kit import PREFIX, TEMPLATES, Console
from interfaces.console.ledger_bars import BAR_WIDTH as LEDGER_BAR_WIDTH
from interfaces.console.request_files import add_request_files
from interfaces.console.session import Session
from support.case.numbers import CASE_REF
from support.case.thread import PAGE_MAX
from support.identity.access import Principal
from support.policies.vocabulary import Via


def allowed_actions(principal: Principal) -> list[CaseAction]:
    return [a for a in CASE_ACTIONS if principal.allows(a.permission)]


def case_router(console: Console) -> APIRouter:
    """/console/cases/{case_id} with its actions, messages and files."""
    router = APIRouter()

    async def case_page(
        request: Request,
        session: Session,
        case_id: str,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        if not CASE_REF.match(case_id):
            raise CaseNotFound(case_id)
        cases = await console.get_cases()
        # the view, the actions it takes and its clocks from one query (issue 26)
        view, basis = await cases.show_with_basis(case_id, session.principal, console.language(request))
        zone = await console.reader_zone(session, view.tenant_id)
        parts = parts_of(
            view, basis, session.principal, allowed_actions(session.principal),
            await console.policy_now(), console.settings.staff_file, console.replies,
            console.reading(request, zone), datetime.now(UTC),
        )  # fmt: skip
        messages = await console.thread.page(cases, case_id, session.principal, None, PAGE_MAX, shown=view)
        return console.render(
            request,
            "case.html",
            status,
            session,
            zone=zone,
            view=view,
            parts=parts,
            bar_width=LEDGER_BAR_WIDTH,
            forms=parts.offers,
            obligations=obligation_words(view),
            done=request.query_params.get("done", ""),
            messages=messages,
            may_comment=session.principal.customer_side,
            comment_id=secrets.token_hex(8),  # one message however often the form is sent
            **context,
        )

    @router.get(f"{PREFIX}/cases/{{case_id}}")
    async def show_case(request: Request, case_id: str) -> Response:
        session = await console.signed_in(request)
        if session.principal.customer_side:  # the customer's page: what they are promised, no SLA mechanics
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"{PREFIX}/requests/{case_id}{query}", status_code=303)
        return await case_page(request, session, case_id)

    @router.post(f"{PREFIX}/cases/{{case_id}}/actions/{{name}}")
    async def act(request: Request, case_id: str, name: str) -> Response:
        session = await console.signed_in(request)
        form = await console.read_form(request, session)
        action = ACTIONS.get(name)
        if action is None or not CASE_REF.match(case_id):
            raise CaseNotFound(case_id)
        principal = session.principal
        if not principal.allows(action.permission):
            raise Forbidden(f"a {principal.role.value} key cannot {action.name}")
        if form.get("use") is not None:  # a canned reply chosen: the form again, filled with it
            cases = await console.get_cases()
            values = await fill_reply(form, console.replies, cases, case_id, principal)
            return await case_page(request, session, case_id, failed=name, problems={}, values=values)
        model = action.body_model()
        try:
            body = model.model_validate(model_input(model, form))
        except ValidationError as error:
            problems = field_problems(error, Words(TEMPLATES, console.language(request)))
            return await case_page(
                request, session, case_id, 422, failed=name, problems=problems, values=form
            )
        cases = await console.get_cases()
        try:
            await cases.perform(action, case_id, action.payload(body, principal.name, Via.CONSOLE), principal)
        except (ActionRejected, InvalidField) as error:
            problems = {error.field: str(error)} if isinstance(error, InvalidField) else {}
            return await case_page(
                request,
                session,
                case_id,
                409 if isinstance(error, ActionRejected) else 422,
                failed=name,
                refusal=str(error) if not problems else "",
                problems=problems,
                values=form,
            )
        return RedirectResponse(f"{PREFIX}/cases/{case_id}?done={name}", status_code=303)

    @router.post(f"{PREFIX}/cases/{{case_id}}/messages")
    async def comment(request: Request, case_id: str) -> Response:
        """The customer's comment box: the same event as a reply by email (application.case_thread)."""
        session = await console.signed_in(request)
        form = await console.read_form(request, session)
        if not CASE_REF.match(case_id):
            raise CaseNotFound(case_id)
        cases = await console.get_cases()
        try:
            written = Comment.model_validate(
                {"request_id": form.get("request_id", ""), "body": form.get("body", "")}
            )
            await console.thread.comment(cases, case_id, session.principal, written)
        except ValidationError as error:
            problems = field_problems(error, Words(TEMPLATES, console.language(request)))
            return await case_page(
                request, session, case_id, 422, failed="comment", problems=problems, values=form
            )
        except ActionRejected as error:
            return await case_page(
                request, session, case_id, 409, failed="comment", refusal=str(error), problems={}, values=form
            )
        return RedirectResponse(f"{PREFIX}/cases/{case_id}?done=comment#thread", status_code=303)

    add_request_files(router, PREFIX, console.engine, console.signed_in, console.get_cases, CASE_REF)
    return router

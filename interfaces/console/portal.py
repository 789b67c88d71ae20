"""The customer's portal in the console: "my requests" (open and closed), each request's page with
its thread, the comment box, the obligations as checkboxes, reopen, withdraw and the survey; and
the survey mail's signed one-click link, answered without a key.

Everything here acts as the signed-in portal (or phone) key, through the same gateway and actions
as the API (`application.cases.Cases`, `application.actions`): ticking an obligation is the customer's
`cooperate` (the obligation becomes answered: its reminders and downgrade timer stop, the engineer
accepts it or asks again), a comment is the reply by email (`application.case_thread`), reopen and
withdraw name the signed-in key as the requester. A customer reads only the customer's view
(`support.case.customer_view`: no staff names, no notes) and only what they are promised
(`support.rules.customer_promises`: no warning points, pauses or who holds the case).

A closed case stays on the list after Temporal has forgotten it: its record in `closed_cases`
(and its thread in `case_messages`) is read instead.

The survey link (`support.messaging.survey_links`) carries a token bound to the case, the addressee and the
survey round; the page checks it against the case itself, answers once (a second click shows the
answer given), and shows a tampered or expired link a page that says so and changes nothing. The
token is never logged: this module logs no path, and the server's access log is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.case_messages import MessageStore
from adapters.closed_cases import read_closed_case
from adapters.codec import KeyRing, SealError, key_ring_from_env
from adapters.console_cases import ConsoleCases, Reader, View
from adapters.logging import get_logger
from adapters.phrases import PhraseBook
from adapters.settings import PROJECT_ROOT
from application.actions import ACTIONS
from application.case_listing import CaseFilter, CaseSummary
from application.case_thread import CaseThread, Comment, comment_id
from application.cases import ActionRejected, CaseNotFound, Cases, Forbidden, InvalidField, Unavailable
from interfaces.console.field_problems import field_problems
from interfaces.console.forms import MAX_FORM_BYTES, parse_form
from interfaces.console.i18n import LANGUAGES, Words, matched
from interfaces.console.session import Session
from interfaces.console.words import Reading
from support.case.actions import Cooperation, CustomerReply, ReopenRequest, SurveyAnswer, Withdrawal
from support.case.thread import PAGE_MAX, description, for_reader
from support.case.thread_message import ThreadMessage
from support.case.view import CaseView, SurveyOutcome
from support.identity.access import Permission, Principal, Role
from support.messaging.reply_addresses import tenant_of_case
from support.messaging.survey_links import LinkProblem, SurveyClaim, addressee_digest, read
from support.policies.vocabulary import CaseStatus, Channel, Via
from support.rules.customer_promises import promise_of
from support.sla_clocks.clocks import ClockName

log = get_logger("casework.portal")

PORTAL_WORDS = PROJECT_ROOT / "templates" / "portal"
LIST_PAGE = 50  # requests a page of each list shows, open and closed (the queue's page size)
NOT_PROJECTED = (CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION)  # listed from Temporal
LINK_ACTOR = "survey-link"  # the name a survey answered through the mail's link acts under


@dataclass(frozen=True)
class PortalFront:
    """What the portal's routes borrow from the console app (`interfaces.console.app`)."""

    engine: Engine
    env: jinja2.Environment
    phrases: PhraseBook
    survey_key: bytes
    signed_in: Callable[[Request], Awaitable[Session]]
    read_form: Callable[[Request, Session | None], Awaitable[dict[str, str]]]
    render: Callable[..., HTMLResponse]
    get_cases: Callable[[], Awaitable[Cases]]
    reader_zone: Callable[[Session, str | None], Awaitable[str]]
    tenant_zone: Callable[[str], Awaitable[str | None]]
    language: Callable[[Request], str]
    thread: CaseThread
    case_id_ok: Callable[[str], bool]  # a case's id or number, as the console's routes take them


@dataclass(frozen=True)
class Listed:
    """One row of "my requests"."""

    case_id: str
    ref: str
    status: str
    category: str | None
    started_at: datetime | None
    answer_due: datetime | None  # the first answer's promised time, while it is awaited
    closed_at: datetime | None = None


@dataclass(frozen=True)
class ListPage:
    """Where a list of "my requests" is: its page, how many pages, how many requests in all."""

    page: int
    pages: int
    total: int


class Ticked(BaseModel):
    """The obligations a customer ticked: each must be one of the case's, outstanding."""

    request_ids: list[str]


def _ref(summary: CaseSummary) -> str:
    return summary.case_number or summary.case_id


def portal_words(language: str) -> Words:
    return Words(PORTAL_WORDS, language)


def console_words(language: str) -> Words:
    """The console's phrase book (field errors, refusals), beside the portal's own words."""
    return Words(PROJECT_ROOT / "templates" / "console", language)


@dataclass(frozen=True)
class PortalReads:
    """What the portal's pages read: the customer's session, the case's view and thread (from
    Temporal, or its closed record once Temporal forgot it), and the request's page."""

    front: PortalFront
    keys: KeyRing | None  # the key ring of the closed records (None: not sealed)
    messages: MessageStore

    async def customer(self, request: Request) -> Session:
        session = await self.front.signed_in(request)
        principal = session.principal
        if not (principal.customer_side and principal.allows(Permission.READ_CASES)):
            raise Forbidden(f"the portal is for the customer's keys, not a {principal.role.value} key")
        return session

    async def view_of(
        self, cases: Cases, case_id: str, principal: Principal, language: str
    ) -> tuple[CaseView, bool]:
        """The customer's view of the case, and whether it is still a running (or remembered) one."""
        try:  # Temporal's alone: show's own fallback on the record would pass for a live case
            return await cases.show(case_id, principal, language, records=False), True
        except CaseNotFound:
            pass
        resolved = await cases.case_id_of(case_id)
        try:
            record = await asyncio.to_thread(read_closed_case, self.front.engine, resolved, self.keys)
        except SealError as error:
            raise Unavailable("the case's record is sealed with a key this process does not have") from error
        if record is None or not principal.sees(record.tenant_id):
            raise CaseNotFound(f"no case {case_id!r}")
        return cases.seen(record, principal, language), False

    async def thread_of(
        self, cases: Cases, view: CaseView, principal: Principal, live: bool
    ) -> list[ThreadMessage]:
        if live:
            return (await self.front.thread.page(cases, view.case_id, principal, None, PAGE_MAX)).messages
        found: list[ThreadMessage] = []
        if view.request is not None:
            via = Via.PHONE if view.channel == Channel.PHONE.value else Via.PORTAL
            found.append(
                description(
                    view.case_id, view.tenant_id, view.request, view.opened_at or view.created_at, via
                )
            )
        try:
            stored, _ = await self.messages.page(view.case_id, 0, PAGE_MAX - len(found), with_internal=False)
        except SealError as error:
            raise Unavailable(
                "the case's messages are sealed with a key this process does not have"
            ) from error
        names = cases.names() if cases.names is not None else None
        return for_reader(found + stored, True, names, view.language)

    async def request_page(
        self, request: Request, session: Session, case_id: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        if not self.front.case_id_ok(case_id):
            raise CaseNotFound(case_id)
        cases = await self.front.get_cases()
        lang = self.front.language(request)
        view, live = await self.view_of(cases, case_id, session.principal, lang)
        reader = await self.front.reader_zone(session, view.tenant_id)
        return self.front.render(
            request,
            "portal_case.html",
            status,
            session,
            reader,
            p=portal_words(lang),
            view=view,
            live=live,
            promise=promise_of(view, datetime.now(UTC)),
            messages=await self.thread_of(cases, view, session.principal, live),
            comment_id=comment_id_for(),
            done=request.query_params.get("done", ""),
            **context,
        )

    async def refused(
        self,
        request: Request,
        session: Session,
        case_id: str,
        form: str,
        error: Exception,
        values: dict[str, str],
    ) -> HTMLResponse:
        """The page again with the form's field errors (422) or the case's refusal (409)."""
        if isinstance(error, ValidationError):
            problems = field_problems(error, console_words(self.front.language(request)))
            return await self.request_page(
                request, session, case_id, 422, failed=form, problems=problems, values=values
            )
        if isinstance(error, InvalidField):
            return await self.request_page(
                request, session, case_id, 422, failed=form, problems={error.field: str(error)}, values=values
            )
        return await self.request_page(
            request, session, case_id, 409, failed=form, refusal=str(error), problems={}, values=values
        )


def install_portal(app: FastAPI, front: PortalFront) -> None:
    """The portal's routes under /console/requests and the survey link under /console/survey."""
    keys = key_ring_from_env()
    reads = PortalReads(front, keys, MessageStore(front.engine, keys))
    _install_requests(app, reads)
    _install_request_forms(app, reads)
    _install_comment(app, reads)
    _install_survey_link(app, front, reads)


def _install_requests(app: FastAPI, reads: PortalReads) -> None:
    """GET /console/requests (the customer's open and closed requests) and one request's page."""
    front = reads.front

    queue = ConsoleCases(front.engine, reads.keys)

    def listed_page(view: View, principal: Principal, number: int) -> tuple[list[Listed], ListPage]:
        """A page of the principal's open or closed requests from the console's projection (closed
        ones Temporal forgot included: their records), as the queue pages them."""
        reader = Reader(tenants=principal.tenant_filter, name=principal.name, customer_side=True)
        found = queue.page(view, reader, datetime.now(UTC), number, size=LIST_PAGE)
        rows = [
            Listed(
                r.case_id,
                r.case_number or r.case_id,
                r.status,
                r.category,
                r.opened_at,
                r.next_deadline if r.clock == ClockName.FIRST_RESPONSE.value else None,
                r.ended_at if view is View.DONE else None,
            )
            for r in found.rows
        ]
        return rows, ListPage(found.page, found.pages, found.total)

    @app.get("/console/requests")
    async def my_requests(request: Request) -> HTMLResponse:
        session = await reads.customer(request)
        principal = session.principal
        cases = await front.get_cases()
        numbers = {
            name: _page_number(request.query_params.get(f"{name}_page")) for name in ("open", "closed")
        }
        try:
            open_ones, open_page = await asyncio.to_thread(listed_page, View.OPEN, principal, numbers["open"])
            closed, closed_page = await asyncio.to_thread(
                listed_page, View.DONE, principal, numbers["closed"]
            )
        except SQLAlchemyError as error:
            log.warning("requests unreadable", error_type=type(error).__name__)
            raise Unavailable("the database does not answer") from None
        if open_page.page == 1:  # not yet opened (awaiting phone verification): no projected row
            waiting = await cases.page(
                CaseFilter(statuses=NOT_PROJECTED), principal=principal, limit=LIST_PAGE
            )
            open_ones = [
                Listed(s.case_id, _ref(s), s.status or CaseStatus.NEW.value, s.category, s.started_at, None)
                for s in waiting.cases
            ] + open_ones
            open_page = dataclasses.replace(open_page, total=open_page.total + len(waiting.cases))
        archived = [x.case_id for x in closed if x.ref == x.case_id]  # known by their record alone
        if archived and cases.numbers is not None:
            found = await asyncio.to_thread(cases.numbers.numbers_of, archived)
            closed = [dataclasses.replace(x, ref=found.get(x.case_id) or x.ref) for x in closed]
        return front.render(
            request,
            "portal_requests.html",
            200,
            session,
            await front.reader_zone(session, None),
            p=portal_words(front.language(request)),
            open_cases=open_ones,
            closed_cases=closed,
            open_page=open_page,
            closed_page=closed_page,
        )

    @app.get("/console/requests/{case_id}")
    async def show_request(request: Request, case_id: str) -> HTMLResponse:
        return await reads.request_page(request, await reads.customer(request), case_id)


def _install_request_forms(app: FastAPI, reads: PortalReads) -> None:
    """The request page's forms: obligations ticked, reopen, withdraw, the survey, a comment."""
    front = reads.front

    async def act(
        request: Request,
        case_id: str,
        form_name: str,
        build: Callable[[Principal, dict[str, str]], list[tuple[str, BaseModel]]],
    ) -> Response:
        """One form of the page: its actions carried out as the signed-in key, else the page with
        the field errors or the case's refusal (and nothing changed)."""
        session = await reads.customer(request)
        form = await front.read_form(request, session)
        if not front.case_id_ok(case_id):
            raise CaseNotFound(case_id)
        principal = session.principal
        cases = await front.get_cases()
        try:
            chosen = build(principal, form)  # every field checked before anything is done
            ticked = [p.request_id for _, p in chosen if isinstance(p, Cooperation)]
            if ticked:
                view = await cases.show(case_id, principal)
                open_ones = {
                    q.request_id for q in promise_of(view, datetime.now(UTC)).obligations if q.outstanding
                }
                if not set(ticked) <= open_ones:
                    raise InvalidField("obligations", "not an outstanding obligation of this case")
            for name, payload in chosen:
                action = ACTIONS[name]
                await cases.perform(
                    action, case_id, action.payload(payload, principal.name, Via.PORTAL), principal
                )
        except (ValidationError, InvalidField, ActionRejected) as error:
            return await reads.refused(request, session, case_id, form_name, error, form)
        return _done(case_id, form_name)

    @app.post("/console/requests/{case_id}/obligations")
    async def tick(request: Request, case_id: str) -> Response:
        lang = front.language(request)
        words = portal_words(lang)

        def build(_: Principal, form: dict[str, str]) -> list[tuple[str, BaseModel]]:
            ticked = [
                key.removeprefix("ob-") for key, value in form.items() if key.startswith("ob-") and value
            ]
            if not ticked:
                raise InvalidField("obligations", words("tick_one"))
            return [
                ("cooperate", Cooperation(request_id=rid, details=words("ticked_details"))) for rid in ticked
            ]

        return await act(request, case_id, "obligations", build)

    @app.post("/console/requests/{case_id}/reopen")
    async def reopen(request: Request, case_id: str) -> Response:
        def build(principal: Principal, form: dict[str, str]) -> list[tuple[str, BaseModel]]:
            return [("reopen", ReopenRequest(requester=principal.name, reason=form.get("reason", "")))]

        return await act(request, case_id, "reopen", build)

    @app.post("/console/requests/{case_id}/withdraw")
    async def withdraw(request: Request, case_id: str) -> Response:
        def build(principal: Principal, form: dict[str, str]) -> list[tuple[str, BaseModel]]:
            return [("withdraw", Withdrawal(requester=principal.name, reason=form.get("reason", "")))]

        return await act(request, case_id, "withdraw", build)

    @app.post("/console/requests/{case_id}/survey")
    async def survey(request: Request, case_id: str) -> Response:
        def build(_: Principal, form: dict[str, str]) -> list[tuple[str, BaseModel]]:
            return [("survey", SurveyAnswer.model_validate(_survey_fields(form)))]

        return await act(request, case_id, "survey", build)


def _install_comment(app: FastAPI, reads: PortalReads) -> None:
    """POST /console/requests/{case_id}/messages: the request page's comment box."""
    front = reads.front

    @app.post("/console/requests/{case_id}/messages")
    async def write(request: Request, case_id: str) -> Response:
        """The comment box: the reply by email's event; on a closed case whose reopen window is
        over, a new request that follows it (as a reply by email does), and the customer is sent there."""
        session = await reads.customer(request)
        form = await front.read_form(request, session)
        if not front.case_id_ok(case_id):
            raise CaseNotFound(case_id)
        principal = session.principal
        cases = await front.get_cases()
        try:
            written = Comment.model_validate(
                {"request_id": form.get("request_id", ""), "body": form.get("body", "")}
            )
        except ValidationError as error:
            return await reads.refused(request, session, case_id, "comment", error, form)
        try:
            await front.thread.comment(cases, case_id, principal, written)
        except ActionRejected as error:
            view, live = await reads.view_of(cases, case_id, principal, front.language(request))
            if not (live and view.status.is_final):
                return await reads.refused(request, session, case_id, "comment", error, form)
            tenant = await cases.scope(view.case_id, principal)
            reply = CustomerReply(
                message_id=comment_id(tenant, written.request_id),
                sender=principal.name,
                body=written.body,
                via=Via.PHONE if principal.role is Role.PHONE else Via.PORTAL,
            )
            opened = await cases.follow_up(view.case_id, reply)
            if opened is None:
                return await reads.refused(request, session, case_id, "comment", error, form)
            return RedirectResponse(f"/console/requests/{opened.case.case_id}?done=followed", status_code=303)
        return RedirectResponse(f"/console/requests/{case_id}?done=comment#thread", status_code=303)


def _install_survey_link(app: FastAPI, front: PortalFront, reads: PortalReads) -> None:
    """The survey mail's link: no key, the token is the credential for one answer."""

    async def link_state(token: str) -> tuple[SurveyClaim | LinkProblem, CaseView | None]:
        """The claim and the case's survey, or why the link does not count (nothing changes)."""
        claim = read(token, front.survey_key, datetime.now(UTC))
        if isinstance(claim, LinkProblem):
            return claim, None
        tenant = tenant_of_case(claim.case_id)
        if not tenant:
            return LinkProblem.TAMPERED, None
        principal = link_principal(tenant)
        cases = await front.get_cases()
        try:
            view, _ = await reads.view_of(cases, claim.case_id, principal, "en")
        except CaseNotFound:
            return LinkProblem.TAMPERED, None
        request = view.request
        addressees = {addressee_digest(a, front.survey_key) for a in _addresses(request)}
        if (
            view.survey is None
            or not claim.for_round(view.survey.sent_at)
            or claim.addressee not in addressees
        ):
            return LinkProblem.TAMPERED, None
        if view.survey.outcome is SurveyOutcome.NO_ANSWER:
            return LinkProblem.EXPIRED, view
        return claim, view

    def link_language(request: Request, view: CaseView | None) -> str:
        """The survey page's language: the switch, else the case's, else the browser's."""
        chosen = request.query_params.get("lang") or request.cookies.get("casework_lang")
        return (
            (matched(chosen) if chosen else None)
            or (matched(view.language) if view else None)
            or front.language(request)
        )

    async def link_page(request: Request, token: str, status: int = 200, **context: Any) -> HTMLResponse:
        claim, view = await link_state(token)
        lang = link_language(request, view)
        zone = (await front.tenant_zone(view.tenant_id) if view else None) or "UTC"
        reader = Reading(console_words(lang), front.phrases, zone)
        if isinstance(claim, LinkProblem):
            status, state = (410 if claim is LinkProblem.EXPIRED else 404), claim.value
        else:
            assert view is not None and view.survey is not None
            state = "answered" if view.survey.outcome is SurveyOutcome.ANSWERED else "open"
        page = front.env.get_template("survey_link.html").render(
            r=reader,
            t=reader.words,
            p=portal_words(lang),
            lang=lang,
            languages=LANGUAGES,
            path=request.url.path,
            principal=None,
            csrf="",
            may=lambda _: False,
            state=state,
            view=view,
            token=token,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    @app.get("/console/survey/{token}")
    async def survey_link(request: Request, token: str) -> HTMLResponse:
        return await link_page(request, token)

    @app.post("/console/survey/{token}")
    async def survey_link_answer(request: Request, token: str) -> HTMLResponse:
        claim, view = await link_state(token)
        if isinstance(claim, LinkProblem) or view is None or view.survey is None:
            return await link_page(request, token)
        if view.survey.outcome is SurveyOutcome.ANSWERED:
            return await link_page(request, token, 409)
        form = await link_form(request)
        if form is None:
            return await link_page(request, token, 413)
        try:
            answer = SurveyAnswer.model_validate(_survey_fields(form))
        except ValidationError as error:
            problems = field_problems(error, console_words(link_language(request, view)))
            return await link_page(request, token, 422, problems=problems, values=form)
        principal = link_principal(view.tenant_id)
        cases = await front.get_cases()
        with contextlib.suppress(ActionRejected):  # answered a moment ago (another click): the
            await cases.perform(ACTIONS["survey"], claim.case_id, answer, principal)  # answer given shows
        return await link_page(request, token, 200, thanked=True)


def _done(case_id: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/console/requests/{case_id}?done={what}", status_code=303)


def _page_number(text: str | None) -> int:
    """A list's page from the query (anything else than a positive number: the first)."""
    return int(text) if text is not None and text.isdigit() and 0 < len(text) < 7 else 1


def _addresses(request: Any) -> list[str]:
    if request is None:
        return []
    return [a for a in (request.contact_email, request.requester) if a]


def _survey_fields(form: dict[str, str]) -> dict[str, Any]:
    score = form.get("score", "")
    return {
        "score": int(score) if score.isdigit() and len(score) == 1 else 0,
        "comment": form.get("comment", ""),
    }


def link_principal(tenant: str) -> Principal:
    """Who answers through the link: the customer's side of the case's tenant, with no key."""
    return Principal(name=LINK_ACTOR, role=Role.PORTAL, tenants=(tenant,))


def comment_id_for() -> str:
    """The comment form's request id: one message however often the form is sent."""
    return secrets.token_hex(8)


async def link_form(request: Request) -> dict[str, str] | None:
    """The survey link's form: no session and no CSRF token (the link's token is the credential,
    and a page elsewhere does not know it); None when it is larger than any form of ours."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return parse_form(bytes(body))

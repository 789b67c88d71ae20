"""Contact support: the form that opens a case (with files, `interfaces.console.contact_files`), the
expected wait beside it (htmx), and the acknowledgement; the same rules as the API's opening."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from application.cases import CaseNotFound, Cases, Forbidden, InvalidField, RequestConflict, TooManyOpenCases
from application.opening_files import BadMultipart, FileTooLarge, Uploads, body_limit, with_files
from interfaces.console.contact_files import TooLargeForm, read_contact
from interfaces.console.field_problems import field_problems
from interfaces.console.i18n import Words
from interfaces.console.kit import PREFIX, TEMPLATES, TENANT_ID, BadForm, Console
from interfaces.console.session import Session
from support.identity.access import Permission, Principal
from support.policies.vocabulary import Category, ContactMethod, Severity
from support.rules.request import CaseRequest
from support.sla_clocks.expected_wait import ExpectedWait

# The form's fields as the opening names them (the rest keep their names).
FORM_FIELDS = {
    "request_id": "request_id",
    "tenant_id": "tenant",
    "requester": "requester",
    "category": "category",
    "severity": "severity",
    "title": "title",
    "description": "description",
    "contact_email": "contact_email",
}


def contact_tenants(principal: Principal) -> list[str]:
    """The tenants the form offers: the key's own; an empty list means a free tenant field."""
    return [] if principal.all_tenants else list(principal.tenants)


def may_open(session: Session) -> Principal:
    principal = session.principal
    if not principal.allows(Permission.OPEN_CASE):
        raise Forbidden(f"a {principal.role.value} key cannot open cases")
    return principal


def opening_of(values: dict[str, str], language: str) -> dict[str, Any]:
    """The opening the form's values ask for, in the reader's language."""
    data: dict[str, Any] = {name: values.get(field, "") for name, field in FORM_FIELDS.items()}
    data["preferred_contact"] = values.get("preferred_contact", "email")
    data["language"] = language
    if values.get("contact_phone"):
        data["contact_phone"] = values["contact_phone"]
    return data


def contact_router(console: Console) -> APIRouter:
    """/console/contact (GET the form, POST an opening) and /console/contact/wait."""
    router = APIRouter()
    uploads = Uploads(console.engine, console.settings)  # the form's files (application.opening_files)

    async def wait_for(
        principal: Principal, tenant: str, category: str, severity: str
    ) -> ExpectedWait | None:
        try:
            chosen = (Category(category), Severity(severity))
        except ValueError:
            return None
        if not TENANT_ID.match(tenant):
            return None
        try:
            return await console.waits.answer(principal, tenant, *chosen)
        except (CaseNotFound, Forbidden):
            return None

    def contact_context(principal: Principal, values: dict[str, str]) -> dict[str, Any]:
        tenants = contact_tenants(principal)
        defaults = {
            "tenant": tenants[0] if tenants else "",
            "category": Category.TECHNICAL.value,
            "severity": Severity.B.value,
            "preferred_contact": ContactMethod.EMAIL.value,
            "request_id": "web-" + secrets.token_hex(8),
        }
        return {
            "tenants": tenants,
            "categories": [c.value for c in Category],
            "severities": [s.value for s in Severity],
            "methods": [m.value for m in ContactMethod],
            "values": defaults | {k: v for k, v in values.items() if k != "csrf"},
            "max_files": uploads.max_files,
            "max_file_mb": round(uploads.max_bytes / 1024 / 1024, 1),
        }

    async def form_page(
        request: Request,
        session: Session,
        status: int,
        values: dict[str, str],
        tenant: str,
        data: dict[str, Any],
        problems: dict[str, str],
    ) -> HTMLResponse:
        """The form again, with what was given and what is wrong with it."""
        principal = session.principal
        context = contact_context(principal, values)
        wait = await wait_for(principal, tenant, data["category"], data["severity"])
        zone = await console.reader_zone(session, tenant)
        return console.render(
            request, "contact.html", status, session, zone, wait=wait, problems=problems, **context
        )

    @router.get(f"{PREFIX}/contact")
    async def contact(request: Request) -> HTMLResponse:
        session = await console.signed_in(request)
        principal = may_open(session)
        context = contact_context(principal, {})
        values = context["values"]
        wait = await wait_for(principal, values["tenant"], values["category"], values["severity"])
        zone = await console.reader_zone(session, values["tenant"])
        return console.render(request, "contact.html", 200, session, zone, wait=wait, problems={}, **context)

    @router.get(f"{PREFIX}/contact/wait")
    async def contact_wait(
        request: Request,
        tenant: Annotated[str, Query(max_length=64)] = "",
        category: Annotated[str, Query(max_length=32)] = "",
        severity: Annotated[str, Query(max_length=8)] = "",
    ) -> HTMLResponse:
        """The expected-wait panel alone, for htmx when the category or severity changes."""
        session = await console.signed_in(request)
        principal = may_open(session)
        wait = await wait_for(principal, tenant, category, severity)
        zone = await console.reader_zone(session, tenant)
        return console.render(request, "wait.html", 200, session, zone, wait=wait)

    @router.post(f"{PREFIX}/contact")
    async def open_case(request: Request) -> HTMLResponse:
        session = await console.signed_in(request)
        principal = may_open(session)
        try:  # the form with its files (interfaces.console.contact_files): bounded, then the CSRF check
            form, files = await read_contact(request, body_limit(console.settings), uploads.max_files)
        except TooLargeForm:
            raise BadForm(413, "fix_fields") from None
        except BadMultipart:
            form, files = {}, []
        console.check_csrf(session.nonce, form)
        values = {k: v for k, v in form.items() if k != "csrf"}
        data = opening_of(values, console.language(request))
        problems: dict[str, str] = {}
        try:
            case_request = CaseRequest.model_validate(data)
            case_request = await with_files(uploads, principal, case_request, files)
        except ValidationError as error:
            words = Words(TEMPLATES, console.language(request))
            problems = field_problems(error, words, renamed={"tenant_id": "tenant"})
        except (FileTooLarge, Forbidden) as error:
            problems = {"files": str(error)}
        if problems:
            return await form_page(request, session, 422, values, values.get("tenant", ""), data, problems)
        cases = await console.get_cases()
        try:
            Cases.authorise_opening(case_request, principal)
            opened = await cases.open(case_request, principal)
        except (InvalidField, RequestConflict, TooManyOpenCases) as error:
            field = error.field if isinstance(error, InvalidField) else "request_id"
            problems = {field: str(error)}
            return await form_page(request, session, 422, values, case_request.tenant_id, data, problems)
        wait = await wait_for(principal, case_request.tenant_id, data["category"], data["severity"])
        zone = await console.reader_zone(session, case_request.tenant_id)
        return console.render(request, "acknowledged.html", 201, session, zone, view=opened.case, wait=wait)

    return router

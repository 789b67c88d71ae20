"""Opening a case: eligible requests open on the terms of `support.rules.case_terms` (severity granted,
calendar, first-response clock, obligations); the others are refused with a reason."""

from __future__ import annotations

from datetime import datetime, timedelta

from support.case.context import CaseContext
from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.case.status import move_to
from support.case.view import IncidentLink, Refusal, SeverityChange
from support.messaging.routing import recipients
from support.policies.vocabulary import CaseStatus
from support.rules.case_terms import case_terms
from support.rules.cooperation import CustomerRequest, RequestKind, obligations_at
from support.rules.eligibility import check_eligibility
from support.wording.display import local_time
from support.wording.reasons import DUE_BY, Reason

# Issue 26: at most one search-attribute upsert per decision. The opening of a case linked to an
# incident set `IncidentId` in an upsert of its own before the opening's; it is now in the one.
INCIDENT_IN_THE_OPENING_UPSERT_PATCH = "incident-attribute-in-the-opening-upsert"


def context_loaded(case: CaseRecord, context: CaseContext, now: datetime, decision: Decision) -> None:
    """Refused, opened, or (a phone call from an unregistered number) kept until the caller is
    verified (`support.identity.phone_verification`)."""
    case.policy, case.tenant = context.policy, context.tenant
    refusal = check_eligibility(case.request, context.tenant, context.requester_is_admin)
    if refusal is not None:
        refuse(case, refusal, now, decision)
    elif context.caller_registered is False:
        case.context = context
    else:
        open_case(case, context, now, decision)


def refuse(case: CaseRecord, refusal: Refusal, now: datetime, decision: Decision) -> None:
    view = case.view
    move_to(view, CaseStatus.REFUSED)
    view.refusal = refusal
    view.record(now, f"refused_{refusal.code}", refusal.message)
    decision.set((CaseAttribute.STATUS, CaseStatus.REFUSED.value))
    told = recipients(case, "refused", {"reason_code": refusal.code}, reasons={"reason": [refusal.reason]})
    decision.tell(told)
    decision.log("info", "case refused", reason_code=refusal.code)


def _obligations(case: CaseRecord) -> list[CustomerRequest]:
    return [r for r in case.view.customer_requests if r.kind is RequestKind.OBLIGATION and r.outstanding]


def obligations_text(case: CaseRecord) -> str:
    """For the timeline (in English, for engineers)."""
    return "; ".join(f"{r.what} by {local_time(r.due, case.facts.time_zone)}" for r in _obligations(case))


def obligations_said(case: CaseRecord) -> list[Reason]:
    """For the customer, in their language: each obligation's name is its phrase's code."""
    return [
        Reason(code=DUE_BY, params={"obligation": r.request_id, "what": r.what}, times={"due": r.due})
        for r in _obligations(case)
    ]


def _request_facts(case: CaseRecord) -> dict[str, str]:
    """What the customer wrote and whom to reach, for the support queue's "new case" message."""
    request = case.request
    return {
        "description": request.description,
        "requester": request.requester,
        "contact_email": request.contact_email,
        "contact_phone": request.contact_phone or "-",
        "preferred_contact": request.preferred_contact.value,
    } | _files(case)


def _files(case: CaseRecord) -> dict[str, str]:
    """The files given at opening, a line each: name, size, and where staff download it (none: no
    fact, so a case without files tells what it always told)."""
    if not case.files:
        return {}
    where = f"/console/cases/{case.view.case_id}/attachments"
    lines = [f"- {f.filename} ({f.size} B): {where}/{f.attachment_id}" for f in case.files]
    return {"attachments": "\n".join(lines)}


def open_case(case: CaseRecord, context: CaseContext, now: datetime, decision: Decision) -> None:
    assert context.tenant is not None
    request, view = case.request, case.view
    terms = case_terms(
        context.policy,
        request.category,
        request.severity,
        context.tenant.agreement,
        context.tenant.time_zone,
        now,
    )
    severity, plan = terms.decision.granted, terms.first_response
    view.tenant_name = context.tenant.name
    view.policy_version = context.policy.version
    view.policy_digest = context.policy_digest
    view.severity = severity
    view.calendar = terms.calendar_name
    view.time_zone = terms.calendar.time_zone
    view.opened_at = now
    case.policy, case.tenant = context.policy, context.tenant
    calendar, policy = case.calendar, case.rules
    view.first_response = plan.clock  # the very clock `starter.py policy due` answers with
    reason = "; ".join(cap.message for cap in terms.decision.caps) or "as requested"
    view.severity_history.append(
        SeverityChange(at=now, severity=severity, previous=None, actor="system", reason=reason)
    )
    for cap in terms.decision.caps:
        view.record(now, "severity_capped", f"{cap.code}: {cap.message}")
    view.record(
        now,
        "opened",
        f"opened at severity {severity.value} on the {view.calendar} calendar; first response due "
        f"{local_time(plan.due, calendar.time_zone)} ({plan.target}"
        + (" of business time)" if plan.target.business_days is None else ")"),
    )
    linked: tuple[tuple[CaseAttribute, str], ...] = ()
    if context.incident is not None:
        incident = context.incident
        view.incident = IncidentLink(
            incident_id=incident.incident_id, service=incident.service, title=incident.title
        )
        view.record(
            now, "incident_linked", f"linked to active incident {incident.incident_id}: {incident.title}"
        )
        linked = ((CaseAttribute.INCIDENT_ID, incident.incident_id),)
        if not case.patched(INCIDENT_IN_THE_OPENING_UPSERT_PATCH):
            decision.set(*linked)  # its own upsert, as cases from before replay
            linked = ()
    view.customer_requests = obligations_at(policy, severity, calendar, now)
    if view.customer_requests:
        view.record(now, "obligations_requested", obligations_text(case))
    move_to(view, CaseStatus.AWAITING_FIRST_RESPONSE)
    decision.set(
        (CaseAttribute.STATUS, view.status.value),
        (CaseAttribute.SEVERITY, severity.value),
        (CaseAttribute.FIRST_RESPONSE_DUE, plan.due),
        *linked,
    )
    facts = {
        "requested_severity": request.severity.value,
        "expected_wait_seconds": str(int(max(plan.due - now, timedelta(0)).total_seconds())),
        "support_open_now": "yes" if calendar.is_open(now) else "no",
    }
    said = {
        "severity_reason": [cap.reason for cap in terms.decision.caps],
        "obligations": obligations_said(case),
    }
    if view.incident is not None:
        facts |= {"incident_id": view.incident.incident_id, "incident_title": view.incident.title}
    times = {"support_opens_at": calendar.next_open(now)}
    decision.tell(recipients(case, "acknowledged", facts, times, reasons=said))
    support_facts = facts | {"calendar": terms.calendar_name} | _request_facts(case)
    decision.tell(recipients(case, "new_case", support_facts, times, reasons=said))
    decision.count(
        "casework_cases_opened", "cases opened", severity=severity.value, category=view.category.value
    )
    decision.log(
        "info",
        "case opened",
        severity=severity.value,
        due=plan.due.isoformat(),
        capped=bool(terms.decision.caps),
    )

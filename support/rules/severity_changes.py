"""A case's severity changes: an engineer's judgement (within what the tenant's agreement and the
category allow), or a downgrade one level when the customer did not cooperate in time. Every
running clock is re-planned on the new severity's calendar from its own start, pauses kept, and
obligations follow the new severity."""

from __future__ import annotations

from datetime import datetime

from support.case.actions import SeverityChangeRequest
from support.case.effects import CaseAttribute, Decision
from support.case.record import CaseRecord
from support.case.view import SeverityChange
from support.messaging.routing import recipients
from support.policies.vocabulary import Severity
from support.rules.cooperation import after_severity_change, waived_and_required_again
from support.rules.entitlement import calendar_name, decide_severity
from support.rules.responses import touch
from support.sla_clocks.clocks import retarget_clock
from support.wording.excerpt import excerpt
from support.wording.reasons import Reason

# Cases that changed severity before it never asked a waived obligation again: they replay so.
OBLIGATIONS_ASKED_AGAIN_PATCH = "waived-obligations-asked-again"


def change_refusal(case: CaseRecord, change: SeverityChangeRequest, now: datetime) -> str | None:
    """Why an engineer may not set this severity, or None."""
    if change.severity == case.view.severity:
        return f"the case is already severity {change.severity.value}"
    decision = decide_severity(case.rules, case.view.category, change.severity, case.facts.agreement)
    if decision.granted != change.severity:
        reasons = "; ".join(cap.message for cap in decision.caps)
        return f"cannot change to severity {change.severity.value}: {reasons}"
    return None


def engineer_change(
    case: CaseRecord, change: SeverityChangeRequest, now: datetime, decision: Decision
) -> None:
    change_severity(case, change.severity, change.engineer, change.reason, now, decision, downgrade=False)
    touch(case, now, None, decision)


def change_severity(
    case: CaseRecord,
    severity: Severity,
    actor: str,
    reason: str,
    now: datetime,
    decision: Decision,
    downgrade: bool,
    said: Reason | None = None,
) -> None:
    """`reason` in English for the timeline; `said` is how a downgrade's reason is told (an
    engineer's reason is told as they wrote it)."""
    view, policy = case.view, case.rules
    previous = view.severity
    view.severity = severity
    calendar = case.calendar  # the new severity's
    view.calendar = calendar_name(policy, view.category, severity)
    view.time_zone = calendar.time_zone
    view.severity_history.append(
        SeverityChange(at=now, severity=severity, previous=previous, actor=actor, reason=excerpt(reason))
    )
    view.severity_changes += 1
    rule, terms = policy.severities[severity], case.clock_terms  # the new severity's
    if view.first_response is not None:
        view.first_response = retarget_clock(view.first_response, terms, rule.first_response, now)
    if view.customer_update is not None:
        view.customer_update = retarget_clock(view.customer_update, terms, rule.customer_update, now)
    again = waived_and_required_again(view.customer_requests, policy, severity)
    view.customer_requests = after_severity_change(
        view.customer_requests,
        policy,
        severity,
        calendar,
        now,
        ask_waived_again=again and case.patched(OBLIGATIONS_ASKED_AGAIN_PATCH),
    )
    kind = "downgraded" if downgrade else "severity_changed"
    view.record(now, kind, f"severity {previous} -> {severity.value}: {excerpt(reason)}", actor=actor)
    attributes: list[tuple[CaseAttribute, str | bool | datetime]] = [(CaseAttribute.SEVERITY, severity.value)]
    if view.first_response is not None and view.first_response.due is not None:
        attributes.append((CaseAttribute.FIRST_RESPONSE_DUE, view.first_response.due))
    decision.set(*attributes)
    facts = {"previous_severity": str(previous)}
    if said is None:
        facts["reason"] = reason
    reasons = {"reason": [said]} if said is not None else None
    decision.tell(recipients(case, kind, facts, sequence=view.severity_changes, reasons=reasons))
    decision.log("info", "severity changed", severity=severity.value, downgrade=downgrade)
    if downgrade:
        decision.count("casework_downgrades", "downgrades for lack of cooperation", to=severity.value)

"""Typed search attributes of a case. Never personal data: ids, enums and instants only."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

with workflow.unsafe.imports_passed_through():
    from support.case.effects import AttributeValue, CaseAttribute

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_SEVERITY = SearchAttributeKey.for_keyword("CaseSeverity")
CASE_CATEGORY = SearchAttributeKey.for_keyword("CaseCategory")
TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
FIRST_RESPONSE_DUE = SearchAttributeKey.for_datetime("FirstResponseDue")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
INCIDENT_ID = SearchAttributeKey.for_keyword("IncidentId")
ASSIGNED_ENGINEER = SearchAttributeKey.for_keyword("AssignedEngineer")  # a staff name
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")  # the queue's order
CLOCK_PAUSED = SearchAttributeKey.for_bool("ClockPaused")
REQUESTER_KEY = SearchAttributeKey.for_keyword("RequesterKey")  # a keyed digest, never the name

ALL_KEYS = (
    CASE_STATUS,
    CASE_SEVERITY,
    CASE_CATEGORY,
    TENANT_ID,
    FIRST_RESPONSE_DUE,
    SLA_BREACHED,
    INCIDENT_ID,
    ASSIGNED_ENGINEER,
    NEXT_DEADLINE,
    CLOCK_PAUSED,
    REQUESTER_KEY,
)


# The keys of the attributes the case's machine sets (`support.case.effects.SetAttributes`).
BY_ATTRIBUTE: dict[CaseAttribute, SearchAttributeKey[Any]] = {
    CaseAttribute.STATUS: CASE_STATUS,
    CaseAttribute.SEVERITY: CASE_SEVERITY,
    CaseAttribute.FIRST_RESPONSE_DUE: FIRST_RESPONSE_DUE,
    CaseAttribute.SLA_BREACHED: SLA_BREACHED,
    CaseAttribute.INCIDENT_ID: INCIDENT_ID,
    CaseAttribute.ASSIGNED_ENGINEER: ASSIGNED_ENGINEER,
    CaseAttribute.NEXT_DEADLINE: NEXT_DEADLINE,
    CaseAttribute.CLOCK_PAUSED: CLOCK_PAUSED,
}


def update(attribute: CaseAttribute, value: AttributeValue) -> SearchAttributeUpdate[Any]:
    """The upsert of one attribute the machine set."""
    return BY_ATTRIBUTE[attribute].value_set(value)


def at_start(
    tenant_id: str, category: str, severity: str, requester_key: str | None = None
) -> TypedSearchAttributes:
    """Set by the starter, so a case is listable before its first workflow task runs.
    `requester_key`: the requester's keyed digest (application.verification_gate), never the name."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(CASE_STATUS, "new"),
        SearchAttributePair(TENANT_ID, tenant_id),
        SearchAttributePair(CASE_CATEGORY, category),
        SearchAttributePair(CASE_SEVERITY, severity),
        SearchAttributePair(SLA_BREACHED, False),
    ]
    if requester_key is not None:
        pairs.append(SearchAttributePair(REQUESTER_KEY, requester_key))
    return TypedSearchAttributes(pairs)

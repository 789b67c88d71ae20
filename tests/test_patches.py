"""The patches a new case pays for once (workflows.patches, issue 26): every patch id the code asks
for is folded, so a new case records one patch marker, not one per behaviour change."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from adapters.settings import PROJECT_ROOT
from support.case_effects import CaseAttribute, SetAttributes
from support.vocabulary import CaseStatus
from tests.case_driver import Driver
from tests.requests import case_request
from workflows.patches import FOLDED, RELEASE_PATCH


def test_every_patch_the_code_asks_for_is_folded() -> None:
    asked: set[str] = set()
    for package in ("support", "workflows"):
        for path in (PROJECT_ROOT / package).glob("*.py"):
            asked |= set(re.findall(r'^\w*_PATCH = "([a-z0-9-]+)"', path.read_text(), re.MULTILINE))
    assert asked - {RELEASE_PATCH} == FOLDED, "a patch asked for but not folded (or folded but gone)"


def test_an_opening_linked_to_an_incident_is_one_upsert() -> None:
    """What a case pays per decision: the opening sets its status, severity, due time and incident
    in one search-attribute upsert (it was two when the case was linked to an incident)."""
    opened_at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    driver = Driver(case_request("incident", severity="A", service="teams"), opened_at)
    upserts = [e for e in driver.effects if isinstance(e, SetAttributes)]
    assert len(upserts) == 1, upserts
    assert dict(upserts[0].values)[CaseAttribute.INCIDENT_ID] == "INC-2026-0042"
    assert driver.view.status is CaseStatus.AWAITING_FIRST_RESPONSE

"""What a case publishes is derived from its view (issue 27): one upsert per decision, only of
what changed, and the status moves only as its table says. Pure, through the machine's driver;
the property test in tests/unit/test_case_machine.py checks the same after every random step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from support.case.actions import Cooperation, CustomerUpdate, FirstResponse, InternalNote
from support.case.attributes import published
from support.case.effects import CaseAttribute, SetAttributes
from support.case.status import TRANSITIONS, IllegalMove, move_to
from support.policies.vocabulary import CaseStatus
from support.sla_clocks.clock_state import ClockState
from tests.unit.test_case_machine import ENGINEER, open_case


def upserts_of(driver_effects: Sequence[object]) -> list[dict[CaseAttribute, object]]:
    return [dict(e.values) for e in driver_effects if isinstance(e, SetAttributes)]


def test_a_note_upserts_nothing_and_a_response_upserts_once_what_changed() -> None:
    driver = open_case("derived-once", severity="A")
    opened = len(driver.effects)
    driver.act(InternalNote(engineer=ENGINEER, note="for colleagues"))
    assert upserts_of(driver.effects[opened:]) == [], "a note changes nothing the queue reads"

    noted = len(driver.effects)
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    (upsert,) = upserts_of(driver.effects[noted:])
    update = driver.view.customer_update
    assert update is not None
    assert upsert == {
        CaseAttribute.STATUS: "in_progress",
        CaseAttribute.NEXT_DEADLINE: update.due,
        CaseAttribute.ASSIGNED_ENGINEER: ENGINEER,
    }, "severity, due time, breach and pause did not change: not sent again"


def test_breaches_after_the_first_do_not_upsert_the_breach_again() -> None:
    """Each missed update cycle set SlaBreached=true again by hand; it is published once."""
    driver = open_case("derived-breaches", severity="A")
    for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
        driver.act(Cooperation(request_id=obligation, details="done"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    driver.advance(timedelta(hours=4, minutes=1))  # the update cycle missed: a breach
    driver.act(CustomerUpdate(engineer=ENGINEER, message="Fix rolling out"))
    driver.advance(timedelta(hours=4, minutes=1))  # and the next one
    breaches = [r for r in driver.view.sla_results if r.state is ClockState.BREACHED]
    assert len(breaches) + driver.view.customer_update_breaches_omitted >= 2
    sent = [v for _, k, v in driver.attribute_log if k is CaseAttribute.SLA_BREACHED]
    assert sent == [True]
    assert driver.attributes[CaseAttribute.SLA_BREACHED] is True
    assert published(driver.view)[CaseAttribute.SLA_BREACHED] is True


def test_move_to_refuses_a_move_the_table_does_not_list() -> None:
    driver = open_case("derived-moves", severity="A")
    view = driver.view
    assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE
    with pytest.raises(IllegalMove, match="from awaiting_first_response to closed"):
        move_to(view, CaseStatus.CLOSED)  # closing skips the resolution and its reopen window
    assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE, "a refused move changes nothing"
    assert set(TRANSITIONS) == set(CaseStatus)
    assert all(not TRANSITIONS[s] for s in CaseStatus if s.is_final), "a final status is final"
    reached = {n for moves in TRANSITIONS.values() for n in moves}
    assert reached == set(CaseStatus) - {CaseStatus.NEW}, "every status but new is reachable"

"""The case's next deadline as data (issue 16): what the queue orders by, published by the case
as the NextDeadline and ClockPaused search attributes whenever it changes. Pure, through the
machine's driver."""

from __future__ import annotations

from datetime import timedelta

from support.case.actions import CustomerActionRequest, CustomerReply, FirstResponse, Resolution
from support.case.attributes import DERIVED_PATCH
from support.case.effects import CaseAttribute
from support.case.next_deadline import NEXT_DEADLINE_PATCH, NO_DEADLINE_AT, next_deadline
from support.sla_clocks.clocks import ClockName
from tests.case_driver import Driver
from tests.unit.test_case_machine import ENGINEER, T0, open_case
from tests.unit.test_case_team import reply


def published(driver: Driver) -> list[tuple[object, object]]:
    """Every (NextDeadline, ClockPaused) the queue read, in order: the pair after each upsert that
    changed either (an upsert carries only what changed: issue 27)."""
    pairs: list[tuple[object, object]] = []
    current: dict[CaseAttribute, object] = {}
    for upsert in driver.upsert_log:
        touched: dict[CaseAttribute, object] = {
            k: v for k, v in upsert if k in (CaseAttribute.NEXT_DEADLINE, CaseAttribute.CLOCK_PAUSED)
        }
        if touched:
            current |= touched
            pairs.append(
                (current[CaseAttribute.NEXT_DEADLINE], current.get(CaseAttribute.CLOCK_PAUSED, False))
            )
    return pairs


def test_the_first_response_due_then_the_update_due_then_none_once_resolved() -> None:
    driver = open_case("next-a", severity="A")
    first_due = driver.view.first_response.due  # type: ignore[union-attr]
    assert next_deadline(driver.view).clock is ClockName.FIRST_RESPONSE
    assert published(driver) == [(first_due, False)]

    driver.advance(timedelta(minutes=40))  # the 50 % warning passes: the deadline does not move
    assert published(driver) == [(first_due, False)], "a warning publishes nothing new"

    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    update = driver.view.customer_update
    assert update is not None and update.due is not None
    assert next_deadline(driver.view).clock is ClockName.CUSTOMER_UPDATE
    assert published(driver)[-1] == (update.due, False)

    driver.act(Resolution(engineer=ENGINEER, summary="MX record fixed"))
    assert next_deadline(driver.view).at is None
    assert published(driver)[-1] == (NO_DEADLINE_AT, False), "no deadline sorts after every real one"


def test_a_clock_waiting_for_the_customer_is_paused_without_a_deadline_until_they_answer() -> None:
    driver = open_case("next-pause", severity="A")
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    driver.act(CustomerActionRequest(engineer=ENGINEER, what="Send the message trace"))
    assert next_deadline(driver.view).paused
    assert published(driver)[-1] == (NO_DEADLINE_AT, True)

    answer: CustomerReply = reply("Trace attached", key="next-pause")
    driver.act(answer)
    update = driver.view.customer_update
    assert update is not None and update.due is not None
    assert published(driver)[-1] == (update.due, False), "the reply resumed the clock"


def test_a_case_from_before_the_rule_publishes_nothing() -> None:
    request = open_case("next-old").case.request
    driver = Driver(request, T0)
    driver.case.patched = lambda patch: patch not in (NEXT_DEADLINE_PATCH, DERIVED_PATCH)
    driver.case.published = None
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    assert published(driver)[1:] == [], "an old case's history replays without the new upserts"

"""Cases opened under one policy content share one snapshot in the worker, and one calendar per
tenant zone, instead of a decoded copy each (issue 26: memory per cached case); a case carried to
a new run takes the shared one again, and a policy no case holds is freed."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from support.case.actions import FirstResponse
from support.policies.policy import Policy
from support.policies.shared import shared
from tests.case_driver import Driver, policy_for
from tests.requests import case_request
from tests.unit.test_case_machine import story

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def decoded(policy: Policy) -> Policy:
    """A copy as a case decodes it from its payload: equal, another object."""
    copy = Policy.model_validate_json(policy.model_dump_json())
    assert copy == policy and copy is not policy
    return copy


def test_cases_of_one_policy_hold_one_snapshot_and_one_calendar_per_tenant_zone() -> None:
    policy = policy_for(T0)
    first = Driver(
        case_request("shared-1", "fabrikam", category="presales", severity="C"), T0, decoded(policy)
    )
    second = Driver(
        case_request("shared-2", "fabrikam", category="presales", severity="C"), T0, decoded(policy)
    )
    assert first.case.policy is second.case.policy, "one snapshot for both cases"
    assert first.case.calendar.time_zone == "Europe/Budapest", "pre-sales runs in the tenant's zone"
    assert first.case.calendar is second.case.calendar, "the tenant-zone calendar is built once"
    other = Driver(
        case_request("shared-3", "contoso", category="presales", severity="C"), T0, decoded(policy)
    )
    assert other.case.calendar.time_zone == "Asia/Shanghai"
    assert other.case.calendar is not first.case.calendar, "another zone, another calendar"

    changed = decoded(policy).model_copy(update={"version": policy.version + "-next"})
    later = Driver(case_request("shared-4"), T0, changed)
    assert later.case.policy is not first.case.policy and later.case.rules.version.endswith("-next")


def test_a_carried_case_takes_the_shared_snapshot_and_decides_as_before() -> None:
    policy = policy_for(T0)
    plain = Driver(case_request("shared-carry", severity="B"), T0, decoded(policy))
    carried = Driver(case_request("shared-carry", severity="B"), T0, decoded(policy), carry=True)
    for driver in (plain, carried):
        driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
        driver.advance(timedelta(days=3))
    assert carried.carries > 0, "the case really went through its carried state"
    assert carried.case.policy is plain.case.policy
    assert story(carried) == story(plain), "which object a case holds changes nothing it decides"


def test_a_policy_no_case_holds_is_freed() -> None:
    base = policy_for(T0).model_copy(update={"version": "freed-after-use"})
    held = decoded(base)
    assert shared(held) is held and shared(decoded(base)) is held
    del held
    gc.collect()
    again = decoded(base)
    assert shared(again) is again, "the table held the first snapshot only while a case did"

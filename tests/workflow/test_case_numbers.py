"""Case numbers people can say (issue 23), on the time-skipping server with a real worker: every
new case gets one (`CW-10001`) from the database before its workflow starts; the same opening sent
again gets the same number; every command and route that takes a case id takes its number too
(resolved by the gateway, `Cases.case_id_of`), within the reader's tenants only; the customer's
mail names the case by its number; a case from before numbers is shown by its id."""

from __future__ import annotations

import re

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from application.cases import CaseNotFound
from support.case.actions import FirstResponse
from support.case.numbers import CASE_REF
from support.case.record import CaseRecord, CaseStart
from support.identity.access import Principal, Role
from support.messaging.routing import recipients
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.unit.test_case_machine import T0, open_case

PORTAL = Principal(name="contoso-portal", role=Role.PORTAL, tenants=("contoso",))
OTHER_PORTAL = Principal(name="fabrikam-portal", role=Role.PORTAL, tenants=("fabrikam",))
NUMBER = re.compile(r"^CW-1[0-9]{4}$")


async def test_a_case_gets_a_number_once_and_is_found_by_it(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    request = case_request(request_id, severity="B")
    async with running_worker(time_env.client, settings) as cases:
        opened = await cases.open(request)
        number = opened.case.case_number
        assert number is not None and NUMBER.match(number), number
        again = await cases.open(request)
        assert not again.created and again.case.case_number == number, "the same opening, the same number"
        other = await cases.open(case_request(f"{request_id}-2", severity="B"))
        assert other.case.case_number not in (None, number)

        case_id = opened.case.case_id
        assert await cases.case_id_of(number) == case_id
        assert (await cases.show(number, PORTAL)).case_id == case_id
        assert (await cases.show(number.lower())).case_id == case_id
        with pytest.raises(CaseNotFound):
            await cases.show(number, OTHER_PORTAL)  # another tenant's number: no such case
        with pytest.raises(CaseNotFound):
            await cases.show("CW-99999")
        await cases.act(number, FirstResponse(engineer="li.wei", message="Looking"))
        answered = await cases.show(number)  # an action answers a receipt (issue 26)
        assert answered.case_id == case_id and answered.status.value == "in_progress"

        await delivered(settings, case_id, "/acknowledged/0/customer", "/first_response/0/customer")
        for mail in mails(settings, case_id):
            assert str(mail["Subject"]).startswith(f"[{number}]"), mail["Subject"]
            assert str(mail["X-Casework-Case"]).strip() == case_id  # machines keep the id


def test_a_case_from_before_numbers_is_shown_by_its_id() -> None:
    driver = open_case("before-numbers")
    assert driver.view.case_number is None and driver.view.ref == driver.view.case_id
    [ack] = [n for n in driver.told if n.event == "acknowledged" and n.audience.value == "customer"]
    assert ack.facts["case_ref"] == driver.view.case_id
    numbered = CaseRecord.begin(
        CaseStart(request=case_request("numbered"), case_number="CW-10482"), T0, "case-contoso.numbered"
    )
    assert numbered.view.ref == "CW-10482"
    numbered.policy, numbered.tenant = driver.case.policy, driver.case.tenant
    assert CaseRecord.begin(numbered.carried(), T0, "x").view.case_number == "CW-10482", "carried on"
    assert all(n.facts["case_ref"] == "CW-10482" for n in recipients(numbered, "resolved", {"summary": "x"}))


@pytest.mark.parametrize("ref", ["case-contoso.r-1", "case-r-1", "CW-10482", "cw10482"])
def test_routes_and_console_pages_take_an_id_or_a_number(ref: str) -> None:
    assert CASE_REF.match(ref)  # the one pattern the API's routes, the console and the CLI use


@pytest.mark.parametrize("ref", ["CW-1", "CW-0010482", "contoso", "case-../x"])
def test_anything_else_is_not_a_case_reference(ref: str) -> None:
    assert not CASE_REF.match(ref)

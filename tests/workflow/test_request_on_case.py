"""The request on the case (issue 23): what the customer wrote and whom to reach reach support in
the "new case" message and in the case as shown (`Cases.show`: the API, `starter.py show`, the
console) to agents, operators and the tenant's own portal; another tenant never finds the case;
search attributes never hold them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.closed_cases import read_closed_case, store_closed_case
from adapters.database import open_database
from adapters.mail_sink import text_of
from adapters.messages import Renderer
from adapters.settings import PROJECT_ROOT, Settings
from application.cases import CaseNotFound
from interfaces.console.i18n import Words
from interfaces.console.kit import TEMPLATES
from support.case.actions import Withdrawal
from support.identity.access import Principal, Role
from support.reporting.closed_case import closed_case_row
from support.rules.request import RequestDetails
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.unit.test_case_machine import open_case
from tests.unit.test_language import case_page

DESCRIPTION = "Nobody can send mail since 09:00.\nThe MX record was changed last night.\n\n— 王芳"
PHONE = "+8613800138000"
OPERATOR = Principal(name="ops", role=Role.OPERATOR)
AGENT = Principal(name="li.wei", role=Role.AGENT)
PORTAL = Principal(name="contoso-portal", role=Role.PORTAL, tenants=("contoso",))
OTHER_PORTAL = Principal(name="fabrikam-portal", role=Role.PORTAL, tenants=("fabrikam",))


def test_the_support_queue_reads_the_description_and_the_contact_in_the_new_case_message() -> None:
    driver = open_case("new-case-request", description=DESCRIPTION, contact_phone=PHONE)
    told = [n for n in driver.told if n.event == "new_case"]
    assert told and all(not n.audience.customer_side for n in told)
    renderer = Renderer(PROJECT_ROOT / "templates")
    for language in ("en", "zh-CN"):
        text = renderer.render(told[0].model_copy(update={"language": language})).text
        assert DESCRIPTION in text and PHONE in text and "admin@contoso.example" in text, text
    acknowledged = next(n for n in driver.told if n.event == "acknowledged")
    assert "description" not in acknowledged.facts, "the customer is not sent their own words back"
    attributes = " ".join(str(v) for v in driver.attributes.values())
    assert "MX record" not in attributes and PHONE not in attributes and "admin@" not in attributes
    assert driver.view.request is None, "the case never carries it: its state stays bounded"


@pytest.mark.parametrize("language", ["en", "zh-CN", "hu"])
def test_the_console_case_page_shows_the_request_in_the_readers_language(language: str) -> None:
    driver = open_case("console-request", description=DESCRIPTION, contact_phone=PHONE)
    view = driver.view.model_copy(update={"request": RequestDetails.of(driver.case.request)})
    page = case_page(language, view)
    assert '<section id="request">' in page and Words(TEMPLATES, language)("the_request") in page
    assert DESCRIPTION in page and PHONE in page and "admin@contoso.example" in page
    assert '<section id="request">' not in case_page(language, driver.view), "nothing to show"


async def test_the_request_is_shown_to_staff_and_the_tenants_portal_never_to_another_tenant(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    request = case_request(request_id, severity="B", description=DESCRIPTION, contact_phone=PHONE)
    expected = RequestDetails.of(request)
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(request)).case.case_id
        for reader in (OPERATOR, AGENT, PORTAL):
            assert (await cases.show(case_id, reader)).request == expected, reader.name
        with pytest.raises(CaseNotFound):
            await cases.show(case_id, OTHER_PORTAL)
        await delivered(settings, case_id, "/new_case/0/support_queue")
        queue = next(m for m in mails(settings, case_id) if "New severity" in m["Subject"])
        text = text_of(queue).replace("\r\n", "\n")
        assert DESCRIPTION in text and PHONE in text

        await cases.act(case_id, Withdrawal(requester="admin@contoso.example", reason="It fixed itself"))
        await time_env.sleep(timedelta(minutes=1))
        ended = await cases.show(case_id, AGENT)  # read from the finished case's history
        assert ended.status.value == "withdrawn" and ended.request == expected

        # Past Temporal's retention the case is read from its closed record, which kept the request.
        engine = open_database(settings)
        try:
            record = read_closed_case(engine, case_id)
            assert record is not None and record.request == expected, "the archive kept the words"
            gone = record.model_copy(update={"case_id": "case-contoso.past-retention"})
            store_closed_case(engine, closed_case_row(gone, archived_at=ended.closed_at or ended.created_at))
        finally:
            engine.dispose()
        for reader in (OPERATOR, AGENT, PORTAL):
            shown = await cases.show(gone.case_id, reader)  # Temporal has no such case: the record
            assert shown.request == expected and shown.status.value == "withdrawn", reader.name
        with pytest.raises(CaseNotFound):
            await cases.show(gone.case_id, OTHER_PORTAL)

"""Staff mail carries no customer reply route: an engineer or the support queue replying to a
notification must not write onto the case as if the customer had (adapters/smtp_out.py
`case_email`, activities/delivery.py). Over the real SMTP sink (aiosmtpd) a worker delivers to.
"""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from bootstrap.worker_runtime import delivery_config
from support.actions import Assignment, FirstResponse
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request


async def test_only_the_customers_side_gets_the_cases_reply_address(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    config = delivery_config(settings)
    staff = {config.support_queue_email, config.duty_manager_email, *config.staff.values()}
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, "contoso", severity="B"))).case.case_id
        await cases.respond(case_id, FirstResponse(engineer="li.wei", message="Looking at it"))
        await cases.assign(case_id, Assignment(engineer="li.wei", assignee="zhang.min", reason="handover"))
        await delivered(settings, case_id, "/acknowledged/", "/assigned/")

    sent = mails(settings, case_id)
    to_staff = [m for m in sent if str(m["To"]) in staff]
    to_customer = [m for m in sent if str(m["To"]) not in staff]
    assert to_staff and to_customer, [(m["To"], m["X-Casework-Notification"]) for m in sent]
    for mail in to_customer:
        assert str(mail["Reply-To"]).startswith("case+"), "the customer answers on the case"
    for mail in to_staff:
        assert mail["Reply-To"] is None, f"staff mail has no reply route: {mail['X-Casework-Notification']}"
        assert "case+" not in mail.as_string(), "nor the case's address anywhere"
        assert mail["Auto-Submitted"] == "auto-generated"

"""Staff mail carries no customer reply route: an engineer or the support queue replying to a
notification must not write onto the case as if the customer had (adapters/smtp_out.py
`case_email`, activities/delivery.py). An engineer's mail replies to an address bound to the case
and to them: their reply from their listed address is their update, with channel email, and a
forged From or another member's reply is refused and changes nothing (interfaces.mail_in.staff_mail). Over
the real SMTP sink (aiosmtpd) a worker delivers to.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.mail_reader_process import InlineReader
from adapters.mail_sink import text_of
from adapters.settings import Settings
from application.case_thread import thread_over
from bootstrap.inbound import inbound_mail_for
from bootstrap.worker_runtime import delivery_config
from interfaces.mail_in.routing import mail_limits
from support.case.actions import Assignment, FirstResponse
from support.identity.access import CLI_OPERATOR
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
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking at it"))
        await cases.act(case_id, Assignment(engineer="li.wei", assignee="zhang.min", reason="handover"))
        await delivered(settings, case_id, "/acknowledged/", "/assigned/")

    sent = mails(settings, case_id)
    to_staff = [m for m in sent if str(m["To"]) in staff]
    to_customer = [m for m in sent if str(m["To"]) not in staff]
    assert to_staff and to_customer, [(m["To"], m["X-Casework-Notification"]) for m in sent]
    for mail in to_customer:
        assert str(mail["Reply-To"]).startswith("case+"), "the customer answers on the case"
    for mail in to_staff:
        engineer = str(mail["To"]) in config.staff.values()
        reply_to = str(mail["Reply-To"]) if mail["Reply-To"] is not None else None
        assert (reply_to or "").startswith("staff+") if engineer else reply_to is None, (
            f"an engineer's mail replies to their staff address, others' to none: "
            f"{mail['X-Casework-Notification']}"
        )
        assert "case+" not in mail.as_string(), "never the customer's case address"
        assert mail["Auto-Submitted"] == "auto-generated"


def staff_reply(original: EmailMessage, body: str, sender: str) -> bytes:
    """A staff member's answer to `original` as a mail client writes it: to its Reply-To, quoting it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = str(original["Reply-To"])
    mail["Subject"] = f"Re: {original['Subject']}"
    mail["Message-ID"] = make_msgid(domain="casework.example")
    mail["In-Reply-To"] = str(original["Message-ID"])
    quoted = "\n".join(f"> {line}" for line in text_of(original).splitlines())
    mail.set_content(f"{body}\n\nOn Fri, casework support wrote:\n{quoted}\n")
    return mail.as_bytes()


async def test_an_engineers_reply_by_mail_is_their_first_response_and_a_forged_from_is_refused(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    zhang = "zhang.min@casework.example"
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, "contoso", severity="B"))).case.case_id
        await cases.act(case_id, Assignment(engineer="li.wei", assignee="zhang.min", reason="handover"))
        await delivered(settings, case_id, "/assigned/")
        assigned = next(m for m in mails(settings, case_id) if str(m["To"]) == zhang)
        engine = open_database(settings)
        routing = inbound_mail_for(settings, cases, engine, InlineReader(mail_limits(settings)), None)
        try:
            to = str(assigned["Reply-To"])
            forged = staff_reply(assigned, "Closing this, nothing to see", "li.wei@casework.example")
            customer = staff_reply(assigned, "I am support now", "admin@contoso.example")
            for raw, sender in ((forged, "li.wei@casework.example"), (customer, "admin@contoso.example")):
                answer = await routing.message(sender, to, raw)
                assert (answer.code, answer.outcome) == (550, "not_staff"), answer
                assert "staff member it was sent to" in answer.text
            spoofed_envelope = await routing.message(
                "x@attacker.example", to, staff_reply(assigned, "hi", zhang)
            )
            assert spoofed_envelope.code == 550
            assert (await cases.show(case_id)).status.value == "awaiting_first_response", "nothing changed"

            mail = staff_reply(assigned, "We found the cause: the MX record.", zhang)
            answer = await routing.message(zhang, to, mail)
            assert (answer.code, answer.outcome) == (250, "staff_update"), answer
            again = await routing.message(zhang, to, mail)
            assert (again.code, again.outcome) == (250, "duplicate"), again
        finally:
            await routing.close()
            engine.dispose()
        view = await cases.show(case_id)
        assert view.first_response is not None and view.first_response.answered_at is not None
        reading = open_database(settings)
        try:
            thread = await thread_over(reading).page(cases, case_id, CLI_OPERATOR)
        finally:
            reading.dispose()
        [answered] = [m for m in thread.messages if m.kind == "response"]
        assert answered.body == "We found the cause: the MX record." and answered.via == "email"
        assert (answered.author, answered.role) == ("zhang.min", "staff"), answered

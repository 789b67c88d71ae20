"""Issue 23 on a real server (time-skipping, real worker and activities, SMTP sink): the admin of
an A case answers every obligation by one email reply, through the update the inbound mail sends
(`receive_reply`); hours pass with no reminder and no downgrade; the agent accepts each. The rules
themselves are told as pure stories in tests/unit/test_obligations.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import text_of
from adapters.settings import Settings
from application.cases import ActionRejected
from support.case.actions import CustomerReply, ObligationAcceptance, ObligationAskedAgain
from support.case.view import CaseView
from support.policies.vocabulary import Severity
from support.rules.cooperation import RequestKind, RequestState
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request

OBLIGATIONS = ("impact_analysis", "reachable_contacts", "contact_data")


def obligations(view: CaseView) -> dict[str, RequestState]:
    return {r.request_id: r.state for r in view.customer_requests if r.kind is RequestKind.OBLIGATION}


async def test_obligations_answered_by_email_are_not_reminded_nor_downgraded_and_the_agent_accepts_them(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    reply = CustomerReply(
        message_id=hashlib.sha256(b"<all-three@mail.contoso.example>").hexdigest(),
        sender="a***@contoso.example",
        body="Impact: 400 users without mail. Reachable: Wang Fang, 24x7. Contact data confirmed.",
    )
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="A"))).case.case_id
        await delivered(settings, case_id, "/acknowledged/0/customer")
        acknowledgement = text_of(next(m for m in mails(settings, case_id) if "received" in m["Subject"]))
        assert "reply to this message" in acknowledgement and "support portal" in acknowledgement

        await time_env.sleep(timedelta(seconds=7))
        await cases.receive_reply(case_id, reply)
        answered = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert obligations(answered) == dict.fromkeys(OBLIGATIONS, RequestState.ANSWERED)

        await time_env.sleep(timedelta(hours=3))  # past the reminders (1 h, 1.5 h) and the due time (2 h)
        view = await cases.show(case_id)
        assert view.severity is Severity.A and view.cooperation_reminders_sent == 0
        assert not [e for e in view.timeline if e.kind in ("cooperation_reminder", "downgraded")]

        for name in OBLIGATIONS:
            await cases.act(case_id, ObligationAcceptance(engineer="li.wei", request_id=name))
            view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert obligations(view) == dict.fromkeys(OBLIGATIONS, RequestState.ACCEPTED)
        again = ObligationAcceptance(engineer="li.wei", request_id="contact_data")
        with pytest.raises(ActionRejected, match=r"li\.wei accepted it"):
            await cases.act(case_id, again)

        # Asked again: the customer is told what, why and by when; the timer starts over.
        why = "the phone number of the duty contact is missing"
        await cases.act(
            case_id, ObligationAskedAgain(engineer="li.wei", request_id="reachable_contacts", reason=why)
        )
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert obligations(view)["reachable_contacts"] is RequestState.OUTSTANDING
        await delivered(settings, case_id, "/obligation_asked_again/1/customer")
        asked = next(m for m in mails(settings, case_id) if "again" in m["Subject"])
        assert why in text_of(asked) and "li.wei" not in text_of(asked) + asked["Subject"]
        await time_env.sleep(timedelta(hours=2, minutes=1))
        view = await cases.show(case_id)
        assert view.severity is Severity.B, "not answered again in time"
    sent = [m["X-Casework-Notification"] for m in mails(settings, case_id)]
    assert not [n for n in sent if "cooperation_reminder_impact_analysis" in n]

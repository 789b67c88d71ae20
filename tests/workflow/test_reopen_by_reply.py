"""Reopen by reply (issue 23): a customer's reply to a resolved case within the reopen window
reopens it (`[resolution] reopen_on_reply`, patch `reopen-by-reply`): no survey is sent when the
window would have ended; after the window (the case closed), the reply opens a new case that
follows the old one at its last severity, and the customer's acknowledgement names the new number.
The resolved mail says how to reopen, in en, zh-CN and hu.

The machine's rules are tested on the pure case; the story on the time-skipping server (never
sleeping: time is skipped) with the real worker, its deliveries to a real SMTP server, and the
inbound mail's routing of the customer's replies to the case's reply address."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.mail_sink import text_of
from adapters.messages import Renderer
from adapters.settings import PROJECT_ROOT, Settings
from bootstrap.inbound import inbound_mail
from support.case.actions import Cooperation, CustomerReply, FirstResponse, Resolution
from support.messaging.reply_addresses import message_hash
from support.policies.vocabulary import CaseStatus, Severity
from support.rules.customer_replies import follow_up_request
from support.rules.resolution import REOPEN_BY_REPLY_PATCH
from tests.case_driver import Driver, policy_for
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.unit.test_case_machine import T0, kinds

ENGINEER = "li.wei"
CUSTOMER = "admin@contoso.example"


def reply(text: str) -> CustomerReply:
    return CustomerReply(
        message_id=hashlib.sha256(text.encode()).hexdigest(), sender="a***@contoso.example", body=text
    )


def resolved(name: str, **policy: object) -> Driver:
    snapshot = policy_for(T0)
    if policy:
        rule = snapshot.resolution.model_copy(update=policy)
        snapshot = snapshot.model_copy(update={"resolution": rule})
    driver = Driver(case_request(name, severity="B"), T0, snapshot)
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    driver.act(Resolution(engineer=ENGINEER, summary="MX record fixed"))
    return driver


def test_a_reply_within_the_window_reopens_and_no_survey_is_sent() -> None:
    driver = resolved("reopen-by-reply")
    driver.advance(timedelta(days=3))
    view = driver.act(reply("Please reopen: mail is bouncing again"))
    assert view.status is CaseStatus.IN_PROGRESS and view.reopened_count == 1 and view.reopen_until is None
    assert kinds(view)[-2:] == ["reopened", "customer_replied"]
    assert ("reopened", "engineer") in driver.told_events() or ("reopened", "support_queue") in (
        driver.told_events()
    )
    driver.advance(timedelta(days=10))
    assert driver.view.status is CaseStatus.IN_PROGRESS and driver.view.survey is None
    assert ("survey", "customer") not in driver.told_events()


def test_without_the_policy_or_the_patch_a_reply_is_only_listed() -> None:
    for driver in (resolved("reply-listed", reopen_on_reply=False), resolved("reply-unpatched")):
        if driver.case.policy is not None and driver.case.rules.resolution.reopen_on_reply:
            driver.case.patched = lambda patch: patch != REOPEN_BY_REPLY_PATCH  # a case from before
        assert driver.act(reply("Thanks, that did it")).status is CaseStatus.RESOLVED
        driver.advance(timedelta(days=8))
        assert driver.view.status is CaseStatus.CLOSED and ("survey", "customer") in driver.told_events()


def test_a_reply_after_the_window_is_refused_by_the_case_and_follows_it_as_a_new_request() -> None:
    driver = resolved("reply-after")
    assert follow_up_request(driver.case.request, driver.view, reply("again")) is None, "still resolved"
    driver.advance(timedelta(days=7, minutes=1))
    late = reply("It is broken again since this morning")
    assert "please open a new case" in str(driver.refusal(late))
    new = follow_up_request(driver.case.request, driver.view, late)
    assert new is not None and new.tenant_id == "contoso" and new.severity is Severity.B
    assert new.description == late.body and new.contact_email == driver.case.request.contact_email
    assert new.request_id == f"re-{late.message_id[:40]}", "the same mail again: the same new case"


@pytest.mark.parametrize(
    ("language", "how"),
    [("en", "reply to this message"), ("zh-CN", "直接回复本邮件"), ("hu", "válaszoljon erre az üzenetre")],
)
def test_the_resolved_mail_says_how_to_reopen(language: str, how: str) -> None:
    driver = Driver(case_request(f"how-{language}", severity="B", language=language), T0)
    driver.act(Resolution(engineer=ENGINEER, summary="MX record fixed"))
    [told] = [n for n in driver.told if n.event == "resolved"]
    text = Renderer(PROJECT_ROOT / "templates").render(told).text
    assert how in text and told.facts["reopen_by_reply"] == "yes"


def answer(original: EmailMessage, body: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Anna <{CUSTOMER}>"
    mail["To"] = str(original["Reply-To"])
    mail["Subject"] = f"Re: {original['Subject']}"
    mail["Message-ID"] = make_msgid(domain="contoso.example")
    mail.set_content(body)
    return mail.as_bytes()


def resolved_mail(settings: Settings, case_id: str) -> EmailMessage:
    return next(m for m in mails(settings, case_id) if m["To"] == CUSTOMER and "resolved" in text_of(m))


async def test_replies_reopen_within_the_window_and_open_a_follow_up_after_it(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        engine = open_database(settings)
        routing = inbound_mail(settings, cases, engine)
        try:
            # Within the window: the reply reopens; the window's end sends no survey.
            first = (await cases.open(case_request(request_id, severity="B"))).case
            await cases.act(first.case_id, FirstResponse(engineer=ENGINEER, message="Looking"))
            await cases.act(first.case_id, Resolution(engineer=ENGINEER, summary="MX record fixed"))
            await delivered(settings, first.case_id, "/resolved/0/customer")
            original = resolved_mail(settings, first.case_id)
            assert "reply to this message" in text_of(original)
            answered = await routing.message(
                CUSTOMER, str(original["Reply-To"]), answer(original, "Please reopen, it bounces again")
            )
            assert answered.code == 250, answered
            assert (await cases.show(first.case_id)).status is CaseStatus.IN_PROGRESS
            await time_env.sleep(timedelta(days=8))
            view = await cases.show(first.case_id)
            assert view.status is CaseStatus.IN_PROGRESS and view.survey is None
            sent = await delivered(settings, first.case_id, "/reopened/1/")
            assert any("/reopened/1/" in i for i in sent) and not [i for i in sent if "/survey/" in i]

            # After the window: the reply opens a new case that follows it, named to the customer.
            later = (await cases.open(case_request(f"{request_id}-2", severity="B"))).case
            await cases.act(later.case_id, FirstResponse(engineer=ENGINEER, message="Looking"))
            await cases.act(later.case_id, Resolution(engineer=ENGINEER, summary="MX record fixed"))
            await delivered(settings, later.case_id, "/resolved/0/customer")
            original = resolved_mail(settings, later.case_id)
            await time_env.sleep(timedelta(days=7, minutes=5))
            assert (await cases.show(later.case_id)).status is CaseStatus.CLOSED
            raw = answer(original, "It is broken again since this morning")
            followed = await routing.message(CUSTOMER, str(original["Reply-To"]), raw)
            assert followed.code == 250 and followed.outcome == "follow_up", followed
            new_id = f"case-contoso.re-{message_hash(str(message_from_bytes(raw)['Message-ID']), raw)[:40]}"
            new = await cases.show(new_id)
            assert new.case_number is not None and new.case_number in followed.text
            assert new.severity is Severity.B and new.follows == later.case_number
            again = await routing.message(CUSTOMER, str(original["Reply-To"]), raw)
            assert again.code == 250 and new.case_number in again.text, "the same mail: the same new case"
            await delivered(settings, new_id, "/acknowledged/0/customer")
            [ack] = [m for m in mails(settings, new_id) if m["To"] == CUSTOMER]
            assert str(ack["Subject"]).startswith(f"[{new.case_number}]")
            assert new.case_number in text_of(ack) and str(later.case_number) in text_of(ack)
        finally:
            engine.dispose()

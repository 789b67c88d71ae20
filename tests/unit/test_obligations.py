"""Obligations answered by the customer (issue 23), as pure stories of the case's machine: an email
reply or a portal answer stops an obligation's reminders and downgrade timer; an engineer accepts
it or asks for it again (a new due time, the customer told why); only an obligation neither
answered nor accepted by its due time lowers the severity. Cases from before the rule replay it
the old way (the patch `obligations-answered-by-reply`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.messages import Renderer
from adapters.settings import PROJECT_ROOT
from support.case.actions import Cooperation, FirstResponse, ObligationAcceptance, ObligationAskedAgain
from support.case.customer_view import customer_view
from support.case.events import DeliveryFailed
from support.case.machine import ALREADY_FAILED
from support.messaging.notifications import Audience
from support.policies.vocabulary import Severity
from support.rules.cooperation import RequestKind, RequestState
from support.rules.customer_requests import OBLIGATIONS_ANSWERED_BY_REPLY_PATCH, UNREACHABLE_CUSTOMER_PATCH
from tests.case_driver import Driver, Refused
from tests.unit.test_case_machine import ENGINEER, open_case
from tests.unit.test_case_team import reply

OBLIGATIONS = ("impact_analysis", "reachable_contacts", "contact_data")
ALL_THREE = (
    "Impact: 400 users cannot send mail, sales stopped.\n"
    "Reachable: Wang Fang +86 10 5555 0100, 24x7.\nContact data confirmed."
)
H = timedelta(hours=1)
RENDERER = Renderer(PROJECT_ROOT / "templates")


def states(driver: Driver) -> dict[str, RequestState]:
    return {r.request_id: r.state for r in driver.view.customer_requests if r.kind is RequestKind.OBLIGATION}


def severity_of(driver: Driver) -> Severity | None:
    return driver.view.severity


def answered_by_email(request_id: str) -> Driver:
    """An A case (obligations due in 2 h, reminders at 1 h and 1.5 h) whose admin answered all
    three obligations by one email reply 7 s after it opened (the issue's story)."""
    driver = open_case(request_id, severity="A")
    driver.advance(timedelta(seconds=7))
    driver.act(reply(ALL_THREE))
    return driver


def test_a_reply_answers_every_obligation_and_nothing_is_reminded_or_downgraded() -> None:
    driver = answered_by_email("answered-by-reply")
    assert states(driver) == dict.fromkeys(OBLIGATIONS, RequestState.ANSWERED)
    assert all(r.answer and "400 users" in r.answer for r in driver.view.customer_requests)
    told = next(n for n in driver.told if n.event == "customer_replied")
    assert told.facts["answered"] == ", ".join(OBLIGATIONS), "the engineer reads what the reply answered"
    entry = next(e for e in driver.view.timeline if e.kind == "obligations_answered")
    assert entry.actor == "customer" and "support accepts each" in entry.message
    assert not [w for w in driver.upcoming() if w.kind.value.startswith("cooperation")], "no timer left"

    driver.advance(timedelta(days=3))
    assert severity_of(driver) is Severity.A
    assert driver.view.cooperation_reminders_sent == 0
    assert not driver.told_ids("cooperation_reminder") and not driver.told_ids("downgraded")


def test_an_obligation_neither_answered_nor_accepted_by_its_due_time_lowers_the_severity() -> None:
    driver = open_case("one-missing", severity="A")
    driver.act(Cooperation(request_id="reachable_contacts", details="Wang Fang, 24x7"))
    driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="contact_data"))  # confirmed by phone
    driver.advance(2 * H + timedelta(minutes=1))
    assert severity_of(driver) is Severity.B
    assert len(driver.told_ids("cooperation_reminder_impact_analysis/")) == 2, "reminded at 1 h and 1.5 h"
    assert not driver.told_ids("cooperation_reminder_reachable_contacts")
    assert not driver.told_ids("cooperation_reminder_contact_data")
    downgraded = next(e for e in driver.view.timeline if e.kind == "downgraded")
    assert "business-impact analysis" in downgraded.message and "in time" in downgraded.message
    # What was answered or accepted stays so through the change (B waives only what it does not need).
    after = states(driver)
    assert after["contact_data"] is RequestState.ACCEPTED
    assert after["reachable_contacts"] is RequestState.ANSWERED


def test_the_agent_accepts_each_answered_obligation_once() -> None:
    driver = answered_by_email("accepted")
    for name in OBLIGATIONS:
        driver.act(ObligationAcceptance(engineer=ENGINEER, request_id=name))
    assert states(driver) == dict.fromkeys(OBLIGATIONS, RequestState.ACCEPTED)
    request = driver.view.customer_requests[-1]  # the last one accepted
    assert request.accepted_by == ENGINEER and request.accepted_at == driver.now
    entry = next(e for e in driver.view.timeline if e.kind == "obligation_accepted")
    assert entry.actor == ENGINEER and "accepted, as answered by the customer" in entry.message
    with pytest.raises(Refused, match=r"li\.wei accepted it at"):
        driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="contact_data"))
    with pytest.raises(Refused, match="already received and accepted"):
        driver.act(Cooperation(request_id="contact_data", details="again"))
    # The portal never reads staff names: the acceptance is by the support name.
    shown = customer_view(driver.view)
    assert ENGINEER not in shown.model_dump_json()


def test_accepting_what_is_not_an_obligation_of_the_case_is_refused_with_the_case_obligations() -> None:
    driver = open_case("not-an-obligation", severity="B")  # B asks for contact_data only
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    with pytest.raises(Refused, match=r"'impact_analysis': it is not an obligation .*contact_data"):
        driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="impact_analysis"))
    with pytest.raises(Refused, match="not an obligation"):
        driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="request-1"))


def test_an_outstanding_obligation_accepted_stops_its_reminders_and_the_downgrade() -> None:
    driver = open_case("accepted-outstanding", severity="C")  # C: not provided in time closes the case
    driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="contact_data"))
    driver.advance(timedelta(days=10))
    assert driver.view.status.value == "awaiting_first_response"
    assert not driver.told_ids("cooperation_reminder")


def test_asking_again_restarts_the_timer_and_tells_the_customer_why() -> None:
    driver = answered_by_email("asked-again")
    driver.advance(3 * H)  # past the first due time: nothing happened
    assert severity_of(driver) is Severity.A
    why = "the analysis names no affected users"
    driver.act(ObligationAskedAgain(engineer=ENGINEER, request_id="impact_analysis", reason=why))
    asked = next(r for r in driver.view.customer_requests if r.request_id == "impact_analysis")
    assert asked.state is RequestState.OUTSTANDING and asked.answered_at is None
    assert (asked.due, asked.reminders) == (driver.now + 2 * H, [driver.now + H, driver.now + 1.5 * H])
    told = next(n for n in driver.told if n.event == "obligation_asked_again")
    assert told.audience is Audience.CUSTOMER and told.facts["why"] == why and told.times["due"] == asked.due
    assert ENGINEER not in told.model_dump_json(), "no staff name in customer mail"
    named = (("en", "business-impact analysis"), ("zh-CN", "业务影响分析"), ("hu", "üzleti hatáselemzés"))
    for language, words in named:
        message = RENDERER.render(told.model_copy(update={"language": language}))
        assert why in message.text and words in message.subject + message.text, (language, message.text)
    with pytest.raises(Refused, match="still outstanding"):
        driver.act(ObligationAskedAgain(engineer=ENGINEER, request_id="impact_analysis", reason=why))

    driver.advance(2 * H + timedelta(minutes=1))
    assert len(driver.told_ids("cooperation_reminder_impact_analysis/")) == 2
    assert severity_of(driver) is Severity.B, "not answered again in time"


def test_asking_again_then_a_second_reply_answers_it_again() -> None:
    driver = answered_by_email("answered-twice")
    driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="contact_data"))
    why = "the phone number is missing"
    driver.act(ObligationAskedAgain(engineer=ENGINEER, request_id="contact_data", reason=why))
    driver.advance(H + timedelta(minutes=1))
    assert len(driver.told_ids("cooperation_reminder_contact_data/")) == 1
    driver.act(reply("Phone: +86 10 5555 0100"))
    assert states(driver)["contact_data"] is RequestState.ANSWERED
    driver.advance(timedelta(days=1))
    assert severity_of(driver) is Severity.A


def test_a_portal_answer_is_the_same_as_a_reply() -> None:
    driver = open_case("portal-tick", severity="A")
    for name in OBLIGATIONS:
        driver.act(Cooperation(request_id=name, details="provided"))
    assert states(driver) == dict.fromkeys(OBLIGATIONS, RequestState.ANSWERED)
    driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="impact_analysis"))
    driver.advance(timedelta(days=1))
    assert severity_of(driver) is Severity.A and not driver.told_ids("cooperation_reminder")


def test_a_case_from_before_the_rule_keeps_its_obligations_outstanding_after_a_reply() -> None:
    driver = open_case("old-rules", severity="A")
    driver.case.patched = lambda patch: patch != OBLIGATIONS_ANSWERED_BY_REPLY_PATCH
    driver.act(reply(ALL_THREE))
    assert states(driver) == dict.fromkeys(OBLIGATIONS, RequestState.OUTSTANDING)
    driver.advance(2 * H + timedelta(minutes=1))
    assert severity_of(driver) is Severity.B


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["reply to this message", "support portal"]),
        ("zh-CN", ["回复此邮件", "支持门户"]),
        ("hu", ["válaszol erre az üzenetre", "támogatási portálon"]),
    ],
)
def test_the_acknowledgement_says_how_obligations_are_provided(language: str, words: list[str]) -> None:
    driver = open_case(f"ack-{language}", severity="A", language=language)
    told = next(n for n in driver.told if n.event == "acknowledged" and n.audience is Audience.CUSTOMER)
    text = RENDERER.render(told).text
    assert all(w in text for w in words), text


def test_a_customer_who_cannot_be_reached_has_not_met_the_contact_data_obligation() -> None:
    """Issue 28: the acknowledgement bounced (or failed at once) after the customer had confirmed
    the contact data and an engineer accepted it: the failure is shown once, the assignee is told
    with the server's text, and the obligation is outstanding again, so its reminders and the
    downgrade timer run until an engineer accepts it again. A second report changes nothing."""
    driver = open_case("unreachable", severity="A")
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    driver.act(ObligationAcceptance(engineer=ENGINEER, request_id="contact_data"))
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking"))
    ack = next(n for n in driver.told if n.event == "acknowledged" and n.audience is Audience.CUSTOMER)
    bounced = DeliveryFailed(notification=ack, reason="bounced after it was sent: 550 5.1.1 User unknown")
    assert driver.refusal(bounced) is None
    driver.act(bounced)
    assert [f.notification_id for f in driver.view.failed_notifications] == [ack.notification_id]
    assert states(driver)["contact_data"] is RequestState.OUTSTANDING
    [told] = [n for n in driver.told if n.event == "notification_failed"]
    assert told.audience is Audience.ENGINEER and "User unknown" in told.facts["server_said"]
    assert "contact_data_due" in told.times
    assert driver.refusal(bounced) == ALREADY_FAILED, "a second report for the same mail"
    staff_failure = next(n for n in driver.told if not n.audience.customer_side)
    driver.deliver(DeliveryFailed(notification=staff_failure, reason="550 no such mailbox"))
    failures = [n for n in driver.told if n.event == "notification_failed"]
    assert len(failures) == 1, "a staff notice that failed tells nobody: no loop"
    driver.advance(2 * H + timedelta(minutes=1))
    assert severity_of(driver) is Severity.B, "not provided in time: downgraded"


def test_cases_from_before_only_show_the_failure() -> None:
    driver = open_case("unreachable-before", severity="B")
    driver.case.patched = lambda patch: patch != UNREACHABLE_CUSTOMER_PATCH
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    ack = next(n for n in driver.told if n.audience is Audience.CUSTOMER)
    driver.deliver(DeliveryFailed(notification=ack, reason="550 User unknown"))
    assert len(driver.view.failed_notifications) == 1
    assert states(driver)["contact_data"] is RequestState.ANSWERED
    assert not [n for n in driver.told if n.event == "notification_failed"]

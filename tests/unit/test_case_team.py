"""Cases worked by a team and answered by email (issue 15), as pure stories of the case's machine:
assignment, internal notes, the customer's email replies, withdrawal, and the customer's actions
answered truthfully (refused with the case's reason when the case would ignore them)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from support.case.actions import (
    Assignment,
    AttachmentRef,
    Cooperation,
    CustomerActionRequest,
    CustomerReply,
    FirstResponse,
    InternalNote,
    ReopenRequest,
    Resolution,
    SurveyAnswer,
    Withdrawal,
)
from support.case.attributes import DERIVED_PATCH
from support.case.customer_view import customer_view
from support.case.effects import CaseAttribute
from support.case.machine import refusal
from support.case.record import CaseRecord, CaseStart
from support.case.view import ATTACHMENTS_KEPT, NOTES_KEPT, REPLY_IDS_KEPT, CaseView, SurveyOutcome
from support.messaging.notifications import Audience
from support.policies.policy import policy_from_dict
from support.policies.vocabulary import CaseStatus
from support.reporting.closed_case import closed_case_row
from support.reporting.reports import ClosedRow, OpenCase, ReportWindow, _open_verdict, sla_report
from support.rules.cooperation import RequestState
from support.rules.customer_replies import ALREADY_RECEIVED, survey_score
from support.rules.responses import ASSIGNEE_ATTRIBUTE_PATCH
from support.sla_clocks.clock_state import ClockState
from tests.case_driver import Driver, Refused, policy_for
from tests.unit.test_case_machine import ENGINEER, T0, open_case

OTHER = "zhang.min"
NOTE = "Customer's CFO is cc'd on every mail; keep it formal. Suspect the MX change of last week."


def message_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def reply(body: str, key: str = "", attachments: int = 0) -> CustomerReply:
    return CustomerReply(
        message_id=message_id(key or body),
        sender="a***@contoso.example",
        body=body,
        attachments=[
            AttachmentRef(
                attachment_id=message_id(f"{key or body}-{n}"),
                filename=f"trace-{n}.txt",
                content_type="text/plain",
                size=100 + n,
            )
            for n in range(attachments)
        ],
    )


def responded(request_id: str, severity: str = "B") -> Driver:
    driver = open_case(request_id, severity=severity)
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    return driver


def to_engineer(driver: Driver, event: str) -> list[str | None]:
    """Who each notification of `event` to the engineer audience was addressed to."""
    return [n.engineer for n in driver.told if n.event == event and n.audience is Audience.ENGINEER]


# -- assignment ----------------------------------------------------------------------------------


def test_first_response_assigns_the_responder_and_sets_the_attribute() -> None:
    driver = responded("implicit")
    assert driver.view.assigned_engineer == ENGINEER
    assert driver.attributes[CaseAttribute.ASSIGNED_ENGINEER] == ENGINEER


def test_first_response_of_a_case_from_before_the_patch_sets_no_assignee_attribute() -> None:
    request = open_case("old-rules").case.request
    driver = Driver(request, T0)
    # from before that patch, so from before the derived attributes too
    driver.case.patched = lambda patch: patch not in (ASSIGNEE_ATTRIBUTE_PATCH, DERIVED_PATCH)
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    assert driver.view.assigned_engineer == ENGINEER
    assert CaseAttribute.ASSIGNED_ENGINEER not in driver.attributes


def test_reassignment_tells_the_new_assignee_and_moves_follow_ups() -> None:
    driver = responded("handover", severity="B")
    view = driver.act(Assignment(engineer="duty.lead", assignee=OTHER, reason="li.wei is on leave"))
    assert view.assigned_engineer == OTHER
    assert driver.attributes[CaseAttribute.ASSIGNED_ENGINEER] == OTHER
    assert to_engineer(driver, "assigned") == [OTHER]
    told = next(n for n in driver.told if n.event == "assigned")
    assert told.facts["previous"] == ENGINEER and told.facts["engineer"] == "duty.lead"
    entry = view.timeline[-1]
    assert (entry.kind, entry.actor, entry.internal) == ("assigned", "duty.lead", True)
    assert "to zhang.min (was li.wei)" in entry.message and "on leave" in entry.message
    driver.advance(timedelta(days=3))
    assert view.follow_ups_sent >= 1
    assert set(to_engineer(driver, "follow_up")) == {OTHER}


def test_assignment_is_refused_to_the_holder_and_on_a_case_that_is_not_open() -> None:
    driver = responded("assign-refused")
    with pytest.raises(Refused, match=r"li\.wei already holds the case"):
        driver.act(Assignment(engineer=OTHER, assignee=ENGINEER, reason="mine now"))
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    with pytest.raises(Refused, match="cannot assign: the case is resolved"):
        driver.act(Assignment(engineer=OTHER, assignee=OTHER, reason="take it"))


def test_an_unassigned_case_can_be_assigned_before_the_first_response() -> None:
    driver = open_case("assign-early", severity="B")
    driver.act(Assignment(engineer="duty.lead", assignee=OTHER, reason="billing expert"))
    assert driver.view.status is CaseStatus.AWAITING_FIRST_RESPONSE
    assert driver.view.assigned_engineer == OTHER
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))  # another engineer answers
    assert driver.view.assigned_engineer == OTHER, "an explicit assignment stands"
    assert driver.attributes[CaseAttribute.ASSIGNED_ENGINEER] == OTHER


# -- internal notes ------------------------------------------------------------------------------


def test_notes_are_kept_for_staff_bounded_and_never_told() -> None:
    driver = responded("notes")
    told = len(driver.told)
    for n in range(NOTES_KEPT + 5):
        driver.act(InternalNote(engineer=ENGINEER, note=f"{NOTE} #{n}" + "x" * 4_000))
    view = driver.view
    assert len(driver.told) == told, "a note is told to nobody"
    assert len(view.notes) == NOTES_KEPT and view.notes_omitted == 5
    assert view.notes[-1].note.startswith(f"{NOTE} #{NOTES_KEPT + 4}") and len(view.notes[-1].note) <= 1_000
    assert all(e.internal for e in view.timeline if e.kind == "note")
    seen = customer_view(view)
    assert seen.notes == [] and seen.notes_omitted == 0 and seen.assigned_engineer is None
    assert not [e for e in seen.timeline if e.internal or e.kind in ("note", "assigned", "follow_up")]
    assert NOTE not in seen.model_dump_json()
    assert len(view.notes) == NOTES_KEPT, "the customer's copy leaves the case's own view alone"


def test_the_customer_view_leaves_out_staff_entries_recorded_before_the_internal_flag() -> None:
    """A running case carries entries recorded before `internal` existed: read back, they say
    internal=False. The customer's view leaves them out by kind, and names no staff member: who
    asked, paused, answered or resolved is the policy's support name ("Support" in English)."""
    driver = responded("old-entries", severity="B")
    driver.act(CustomerActionRequest(engineer=ENGINEER, what="Send the SMTP logs of Monday"))
    driver.act(Assignment(engineer="duty.lead", assignee=OTHER, reason="billing expert"))
    driver.act(InternalNote(engineer=OTHER, note=NOTE))
    driver.act(Resolution(engineer=OTHER, summary="Fixed the MX record"))
    data = driver.view.model_dump(mode="json")
    at = data["timeline"][-1]["at"]
    data["timeline"] += [
        {"at": at, "actor": "system", "kind": "follow_up", "message": f"no activity; reminded {ENGINEER}"},
        {"at": at, "actor": "system", "kind": "notification_failed", "message": f"follow_up to {OTHER}: 550"},
    ]
    for entry in data["timeline"]:
        entry.pop("internal", None)  # as a run from before the flag carried it
    older = CaseView.model_validate(data)
    assert not any(entry.internal for entry in older.timeline)

    seen = customer_view(older)
    kinds = [entry.kind for entry in seen.timeline]
    assert not {"follow_up", "notification_failed", "assigned", "note"} & set(kinds)
    assert {"opened", "first_response", "customer_action_requested", "resolved"} <= set(kinds)
    shown = seen.model_dump_json()
    for name in (ENGINEER, OTHER, "duty.lead"):
        assert name not in shown, name
    engineer_request = next(r for r in seen.customer_requests if r.request_id == "request-1")
    assert engineer_request.requested_by == "Support"
    assert {e.actor for e in seen.timeline} <= {"system", "customer", "Support"}
    assert seen.resolved_by == "Support" and seen.pauses[0].paused_by == "Support"
    assert seen.first_response is not None and seen.first_response.answered_by == "Support"
    # The case's own view (staff's) is left alone.
    assert ENGINEER in older.model_dump_json() and older.resolved_by == OTHER
    assert len(older.timeline) == len(data["timeline"])


def test_a_note_is_taken_on_a_resolved_case_but_not_while_it_is_opened() -> None:
    driver = responded("note-resolved")
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    driver.act(InternalNote(engineer=ENGINEER, note="Root cause: expired certificate"))
    assert driver.view.notes[-1].note == "Root cause: expired certificate"


# -- the customer's email replies ----------------------------------------------------------------


def test_a_reply_answers_the_engineers_requests_and_resumes_the_clock() -> None:
    driver = responded("reply-resumes")
    driver.act(CustomerActionRequest(engineer=ENGINEER, what="Send the message trace"))
    assert driver.view.customer_update is not None and not driver.view.customer_update.running
    body = "Here is the trace you asked for.\nIt shows 550 5.7.1 at 09:02."
    view = driver.act(reply(body, attachments=2))
    request = next(r for r in view.customer_requests if r.request_id == "request-1")
    assert request.state is RequestState.ANSWERED
    assert view.customer_update is not None and view.customer_update.running
    obligations = [r for r in view.customer_requests if r.kind.value == "obligation"]
    assert all(r.state is RequestState.ANSWERED for r in obligations), "obligations too (issue 23)"
    assert [a.filename for a in view.attachments] == ["trace-0.txt", "trace-1.txt"]
    entry = next(e for e in view.timeline if e.kind == "customer_replied")
    assert entry.actor == "customer" and not entry.internal and "(2 attachments)" in entry.message
    told = next(n for n in driver.told if n.event == "customer_replied")
    assert told.audience is Audience.ENGINEER and told.engineer == ENGINEER
    assert told.facts["body"] == body and "trace-1.txt (text/plain, 101 bytes)" in told.facts["attachments"]
    assert told.facts["answered"] == "contact_data, request-1"


def test_the_same_message_twice_is_one_message() -> None:
    driver = responded("reply-once")
    driver.act(reply("First answer"))
    with pytest.raises(Refused, match=f"^{ALREADY_RECEIVED}"):
        driver.act(reply("First answer"))
    assert len([n for n in driver.told if n.event == "customer_replied"]) == 1


def test_reply_ids_and_attachments_stay_bounded() -> None:
    driver = responded("reply-bounded")
    for n in range(REPLY_IDS_KEPT + 10):
        driver.act(reply(f"answer {n}", attachments=1))
    view = driver.view
    assert len(view.reply_ids) == REPLY_IDS_KEPT
    assert len(view.attachments) == ATTACHMENTS_KEPT
    assert view.attachments_omitted == REPLY_IDS_KEPT + 10 - ATTACHMENTS_KEPT
    assert view.replies_received == REPLY_IDS_KEPT + 10
    told = [n.notification_id for n in driver.told if n.event == "customer_replied"]
    assert len(set(told)) == len(told) == REPLY_IDS_KEPT + 10


def test_a_reply_while_unassigned_reaches_the_support_queue() -> None:
    driver = open_case("reply-queue", severity="B")
    driver.act(reply("Any news?"))
    told = next(n for n in driver.told if n.event == "customer_replied")
    assert told.audience is Audience.ENGINEER and told.engineer is None  # routed to the queue


def test_a_reply_to_a_resolved_case_within_the_window_reopens_it() -> None:
    """Issue 23 (`[resolution] reopen_on_reply`, as Zendesk does): it was a message only
    (tests/workflow/test_reopen_by_reply.py has the policy that keeps it so)."""
    driver = responded("reply-resolved")
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    view = driver.act(reply("It is back"))
    assert view.status is CaseStatus.IN_PROGRESS
    assert ("customer_replied", "engineer") in driver.told_events()


def test_a_reply_with_a_score_answers_the_pending_survey_other_replies_are_refused() -> None:
    driver = responded("reply-survey", severity="C")
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    driver.advance(timedelta(days=7, minutes=1))
    assert driver.view.status is CaseStatus.CLOSED
    with pytest.raises(Refused, match="the case is closed"):
        driver.act(reply("Actually, one more question"))
    view = driver.act(reply("4/5 - quick and friendly"))
    assert view.survey is not None and view.survey.outcome is SurveyOutcome.ANSWERED
    assert (view.survey.score, view.survey.comment) == (4, "quick and friendly")
    assert driver.done


@pytest.mark.parametrize(
    ("body", "scored"),
    [
        ("5", (5, "")),
        ("4/5 great", (4, "great")),
        ("3 out of 5: slow", (3, "slow")),
        (" 1. never again", (1, "never again")),
        ("10 stars", None),
        ("6", None),
        ("2.5", None),
        ("Thanks!", None),
    ],
)
def test_survey_scores_in_replies(body: str, scored: tuple[int, str] | None) -> None:
    assert survey_score(body) == scored


def test_a_reply_is_refused_while_the_case_is_opened() -> None:
    request = open_case("reply-new").case.request
    record = CaseRecord.begin(CaseStart(request=request), T0, request.case_id)

    reason = refusal(record, reply("hello"), T0)
    assert reason is not None and "still being opened" in reason


# -- withdrawal ----------------------------------------------------------------------------------


def test_withdrawal_closes_without_a_survey_and_tells_the_assignee() -> None:
    driver = responded("withdraw")
    view = driver.act(Withdrawal(requester="admin@contoso.example", reason="It fixed itself"))
    assert view.status is CaseStatus.WITHDRAWN and driver.done
    assert view.survey is None and view.withdrawal is not None and view.closed_at is not None
    assert all(r.state is not RequestState.OUTSTANDING for r in view.customer_requests)
    assert view.customer_update is not None and not view.customer_update.running
    assert driver.attributes[CaseAttribute.STATUS] == "withdrawn"
    assert ("withdrawn", "customer") in driver.told_events()
    assert to_engineer(driver, "withdrawn") == [ENGINEER]
    assert not [e for e in driver.told_events() if e[0] == "survey"]


def test_withdrawing_an_unanswered_case_neither_meets_nor_breaches_its_first_response() -> None:
    driver = open_case("withdraw-early", severity="B")
    view = driver.act(Withdrawal(requester="admin@contoso.example", reason="Raised by mistake"))
    assert view.first_response is not None and view.first_response.state is ClockState.STOPPED
    assert not view.sla_breached
    assert to_engineer(driver, "withdrawn") == [None]  # nobody holds it: the support queue
    due = view.first_response.due or T0 + timedelta(days=1)

    row = OpenCase(
        case_id=view.case_id,
        tenant_id="contoso",
        status=CaseStatus.WITHDRAWN,
        first_response_due=due,
        sla_breached=False,
        started_at=T0,
    )
    assert _open_verdict(row, T0 + timedelta(minutes=5)) == "unanswered"


def test_withdrawal_is_refused_when_resolved_or_withdrawn() -> None:
    driver = responded("withdraw-refused")
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    with pytest.raises(Refused, match="cannot withdraw: the case is resolved"):
        driver.act(Withdrawal(requester="admin@contoso.example", reason="no longer needed"))


# -- the customer's actions answer truthfully ------------------------------------------------------


def test_customer_actions_the_case_would_ignore_are_refused_with_its_reason() -> None:
    driver = open_case("truthful", severity="A")
    with pytest.raises(Refused, match="no request 'request-9'"):
        driver.act(Cooperation(request_id="request-9", details="here"))
    driver.act(Cooperation(request_id="contact_data", details="confirmed"))
    with pytest.raises(Refused, match="'contact_data' was already answered"):
        driver.act(Cooperation(request_id="contact_data", details="again"))
    with pytest.raises(Refused, match="survey has not been sent"):
        driver.act(SurveyAnswer(score=5))
    with pytest.raises(Refused, match="only a resolved case can be reopened"):
        driver.act(ReopenRequest(requester="admin@contoso.example", reason="It is back"))
    driver.act(FirstResponse(engineer=ENGINEER, message="On it"))
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    with pytest.raises(Refused, match="no longer needed"):
        driver.act(Cooperation(request_id="impact_analysis", details="late"))
    driver.advance(timedelta(days=7, minutes=1))
    driver.act(SurveyAnswer(score=5))
    assert driver.done


def test_survey_answer_after_it_expired_is_refused() -> None:
    driver = responded("survey-expired", severity="C")
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    driver.advance(timedelta(days=7, minutes=1))
    survey = driver.view.survey
    assert survey is not None
    driver.case.view.survey = survey.model_copy(update={"outcome": SurveyOutcome.NO_ANSWER})
    reason = driver.refusal(SurveyAnswer(score=3))  # the workflow still settles its deliveries
    assert reason is not None and "survey expired" in reason


def test_old_views_decode_without_the_new_fields() -> None:
    view = open_case("old-view").view
    data = view.model_dump(mode="json")
    for name in ("notes", "notes_omitted", "attachments", "reply_ids", "withdrawal", "assignments"):
        data.pop(name)
    for entry in data["timeline"]:
        entry.pop("internal")
    assert CaseView.model_validate(data).timeline[0].internal is False


def test_a_withdrawn_case_in_the_report_is_unanswered_and_sent_no_survey() -> None:
    driver = open_case("withdrawn-report", severity="B")
    view = driver.act(Withdrawal(requester="admin@contoso.example", reason="Raised by mistake"))
    row = ClosedRow.model_validate(closed_case_row(view, driver.now).model_dump())
    window = ReportWindow(since=T0 - timedelta(days=1), until=T0 + timedelta(days=1))
    report = sla_report(window, [row], [], driver.now + timedelta(days=3))
    assert (report.cases, report.met, report.breached, report.unanswered) == (1, 0, 0, 1)
    assert report.csat.sent == 0


def test_a_policy_snapshot_from_before_the_new_events_routes_them_to_the_engineer() -> None:
    """Running cases carry the policy they opened on: one without the issue's events still
    validates (continue-as-new input, replays) and tells the engineer (or the queue)."""
    data = policy_for(T0).model_dump(mode="json")
    for event in ("assigned", "customer_replied", "withdrawn"):
        data["routing"]["events"].pop(event)
    older = policy_from_dict(data, "an older snapshot")
    assert older.routing.audiences("assigned", None) == [Audience.ENGINEER]
    assert older.routing.audiences("withdrawn", None) == [Audience.CUSTOMER, Audience.ENGINEER]

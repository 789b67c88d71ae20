"""What the customer owes a case (`support.rules.cooperation`): periods, obligations, severity changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.policies.vocabulary import Category, Severity
from support.rules.cooperation import (
    CustomerRequest,
    RequestKind,
    RequestState,
    after_severity_change,
    asked_again,
    cooperation_period,
    new_request,
    obligations_at,
    one_lower,
    open_engineer_requests,
    request_choices,
    waiting_on_customer,
    waive_all,
)
from support.rules.entitlement import case_calendar
from support.sla_clocks.calendar import Calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday
POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
H = timedelta(hours=1)


def calendar_of(severity: Severity) -> Calendar:
    return case_calendar(POLICY, Category.TECHNICAL, severity, "Asia/Shanghai")


def engineer_request(
    n: int, at: datetime = T0, severity: Severity = Severity.A, pauses_clock: bool = True
) -> CustomerRequest:
    return new_request(
        POLICY,
        severity,
        calendar_of(severity),
        at,
        request_id=f"request-{n}",
        kind=RequestKind.ENGINEER,
        what="a network trace",
        requested_by="li.wei",
        pauses_clock=pauses_clock,
    )


def by_id(requests: list[CustomerRequest]) -> dict[str, CustomerRequest]:
    return {r.request_id: r for r in requests}


# -- the downgrade step -------------------------------------------------------------------------------


@pytest.mark.parametrize(("severity", "lower"), [("A", "B"), ("B", "C"), ("C", None)])
def test_one_lower_steps_a_to_b_to_c_to_none(severity: str, lower: str | None) -> None:
    assert one_lower(Severity(severity)) == (Severity(lower) if lower else None)


# -- one period ---------------------------------------------------------------------------------------


def test_a_period_of_an_a_case_runs_around_the_clock() -> None:
    due, reminders = cooperation_period(POLICY, Severity.A, calendar_of(Severity.A), T0)
    assert due == T0 + 2 * H
    assert reminders == [T0 + H, T0 + 1.5 * H]


def test_a_period_of_a_b_case_counts_business_time_only() -> None:
    monday_23 = datetime(2026, 11, 23, 23, 0, tzinfo=SHANGHAI)  # 1h of the 15h business day left
    due, reminders = cooperation_period(POLICY, Severity.B, calendar_of(Severity.B), monday_23)
    assert due == datetime(2026, 11, 24, 23, 0, tzinfo=SHANGHAI)
    assert reminders == [
        datetime(2026, 11, 24, 15, 30, tzinfo=SHANGHAI),  # 7h30 in: 1h on Monday, 6h30 from 09:00
        datetime(2026, 11, 24, 19, 15, tzinfo=SHANGHAI),  # 11h15 in
    ]


def test_a_new_request_is_outstanding_with_its_periods_due_and_reminders() -> None:
    request = engineer_request(1)
    assert request.outstanding and request.state is RequestState.OUTSTANDING
    assert (request.requested_at, request.due, request.reminders) == (T0, T0 + 2 * H, [T0 + H, T0 + 1.5 * H])
    assert request.reminders_sent == 0 and request.answered_at is None


# -- obligations --------------------------------------------------------------------------------------


def test_a_case_opens_with_its_severitys_obligations_which_do_not_pause_the_update_clock() -> None:
    a = obligations_at(POLICY, Severity.A, calendar_of(Severity.A), T0)
    assert [o.request_id for o in a] == ["impact_analysis", "reachable_contacts", "contact_data"]
    assert [o.what for o in a] == [POLICY.obligations[o.request_id] for o in a]
    assert all(o.kind is RequestKind.OBLIGATION and o.requested_by == "policy" for o in a)
    assert not waiting_on_customer(a)
    (b,) = obligations_at(POLICY, Severity.B, calendar_of(Severity.B), T0)
    assert b.request_id == "contact_data"


# -- a severity change --------------------------------------------------------------------------------


def test_a_downgrade_waives_dropped_obligations_and_gives_the_rest_a_fresh_period() -> None:
    calendar_a, calendar_b = calendar_of(Severity.A), calendar_of(Severity.B)
    requests = [*obligations_at(POLICY, Severity.A, calendar_a, T0), engineer_request(1)]
    requests[1] = requests[1].model_copy(update={"state": RequestState.ANSWERED, "answered_at": T0 + H})
    requests[3] = requests[3].model_copy(update={"reminders_sent": 1})
    changed_at = T0 + 3 * H

    after = by_id(after_severity_change(requests, POLICY, Severity.B, calendar_b, changed_at))

    assert list(after) == ["impact_analysis", "reachable_contacts", "contact_data", "request-1"]
    assert after["impact_analysis"].state is RequestState.WAIVED, "B does not ask for it"
    assert after["reachable_contacts"] == requests[1], "an answered obligation keeps its answer"
    fresh_due, fresh_reminders = cooperation_period(POLICY, Severity.B, calendar_b, changed_at)
    for request_id in ("contact_data", "request-1"):
        request = after[request_id]
        assert request.outstanding and request.reminders_sent == 0
        assert (request.due, request.reminders) == (fresh_due, fresh_reminders), "B's time, from the change"
    assert fresh_due == datetime(2026, 11, 24, 13, 0, tzinfo=SHANGHAI)  # 11h on Monday, 4h on Tuesday


def test_an_upgrade_asks_for_the_new_severitys_obligations_from_the_change() -> None:
    calendar_b, calendar_a = calendar_of(Severity.B), calendar_of(Severity.A)
    requests = obligations_at(POLICY, Severity.B, calendar_b, T0)
    changed_at = T0 + 2 * H

    after = after_severity_change(requests, POLICY, Severity.A, calendar_a, changed_at)

    assert [r.request_id for r in after] == ["contact_data", "impact_analysis", "reachable_contacts"]
    assert all(r.outstanding for r in after)
    assert all(r.due == changed_at + 2 * H for r in after), "A's 2h, around the clock, from the change"
    assert [r.kind for r in after] == [RequestKind.OBLIGATION] * 3


def test_obligations_waived_by_a_downgrade_are_asked_again_when_the_severity_comes_back() -> None:
    calendar_a, calendar_b = calendar_of(Severity.A), calendar_of(Severity.B)
    requests = obligations_at(POLICY, Severity.A, calendar_a, T0)
    down = after_severity_change(requests, POLICY, Severity.B, calendar_b, T0 + H)
    assert by_id(down)["impact_analysis"].state is RequestState.WAIVED
    back_at = T0 + 3 * H

    back = after_severity_change(down, POLICY, Severity.A, calendar_a, back_at)

    assert sorted(r.request_id for r in back) == ["contact_data", "impact_analysis", "reachable_contacts"]
    asked = by_id(back)
    assert asked["impact_analysis"].outstanding and asked["reachable_contacts"].outstanding
    assert asked["impact_analysis"].due == back_at + 2 * H, "A's time again, from the change back"
    # Cases that changed severity before the rule keep the old answer (they replay so):
    old = after_severity_change(down, POLICY, Severity.A, calendar_a, back_at, ask_waived_again=False)
    assert by_id(old)["impact_analysis"].state is RequestState.WAIVED


def test_a_severity_change_does_not_touch_requests_already_closed() -> None:
    answered = engineer_request(1).model_copy(update={"state": RequestState.ANSWERED, "answered_at": T0})
    waived = engineer_request(2).model_copy(update={"state": RequestState.WAIVED})
    after = after_severity_change([answered, waived], POLICY, Severity.C, calendar_of(Severity.C), T0 + H)
    assert after[:2] == [answered, waived]
    assert [r.request_id for r in after[2:]] == ["contact_data"]


# -- resolving, waiting ----------------------------------------------------------------------------------


def test_waive_all_waives_what_is_outstanding_and_keeps_answers() -> None:
    answered = engineer_request(1).model_copy(update={"state": RequestState.ANSWERED, "answer": "done"})
    outstanding = [engineer_request(2), *obligations_at(POLICY, Severity.A, calendar_of(Severity.A), T0)]
    after = waive_all([answered, *outstanding])
    assert after[0] == answered
    assert all(r.state is RequestState.WAIVED for r in after[1:])
    assert [r.request_id for r in after] == [answered.request_id, *(r.request_id for r in outstanding)]
    assert not waiting_on_customer(after) and open_engineer_requests(after) == 0


def test_the_case_waits_on_the_customer_only_for_an_outstanding_request_that_pauses_the_clock() -> None:
    obligations = obligations_at(POLICY, Severity.A, calendar_of(Severity.A), T0)
    assert not waiting_on_customer([])
    assert not waiting_on_customer(obligations), "obligations do not pause the update clock"
    assert not waiting_on_customer([engineer_request(1, pauses_clock=False)])
    pausing = engineer_request(2)
    assert waiting_on_customer([*obligations, pausing])
    for state in (RequestState.ANSWERED, RequestState.WAIVED):
        assert not waiting_on_customer([*obligations, pausing.model_copy(update={"state": state})])


def test_open_engineer_requests_counts_only_outstanding_engineer_requests() -> None:
    requests = [
        *obligations_at(POLICY, Severity.A, calendar_of(Severity.A), T0),
        engineer_request(1),
        engineer_request(2, pauses_clock=False),
        engineer_request(3).model_copy(update={"state": RequestState.ANSWERED}),
    ]
    assert open_engineer_requests(requests) == 2


# -- answered, accepted, asked again (issue 23) ----------------------------------------------------


def test_asked_again_is_outstanding_with_the_new_period_and_forgets_the_answer() -> None:
    calendar = calendar_of(Severity.A)
    accepted = obligations_at(POLICY, Severity.A, calendar, T0)[0].model_copy(
        update={
            "state": RequestState.ACCEPTED,
            "answered_at": T0,
            "answer": "x",
            "accepted_at": T0 + H,
            "accepted_by": "li.wei",
            "reminders_sent": 2,
        }
    )
    again = asked_again(accepted, cooperation_period(POLICY, Severity.A, calendar, T0 + 5 * H))
    assert again.outstanding and again.reminders_sent == 0
    assert (again.due, again.reminders) == (T0 + 7 * H, [T0 + 6 * H, T0 + 6.5 * H])
    assert (again.answered_at, again.answer, again.accepted_at, again.accepted_by) == (None, None, None, None)
    assert (again.request_id, again.what, again.requested_at) == (accepted.request_id, accepted.what, T0)


def test_each_action_is_offered_the_requests_it_may_name() -> None:
    impact, contacts, data = obligations_at(POLICY, Severity.A, calendar_of(Severity.A), T0)
    requests = [
        impact,
        contacts.model_copy(update={"state": RequestState.ANSWERED}),
        data.model_copy(update={"state": RequestState.ACCEPTED}),
        engineer_request(1),
    ]
    assert request_choices(requests) == {
        "cooperate": ["impact_analysis", "request-1"],
        "accept_obligation": ["impact_analysis", "reachable_contacts"],
        "ask_obligation_again": ["reachable_contacts", "contact_data"],
    }

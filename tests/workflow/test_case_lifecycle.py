"""Case lifecycle after opening, as full stories on the time-skipping server (real activities)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel
from temporalio.testing import WorkflowEnvironment

from adapters.closed_cases import read_closed_case
from adapters.database import open_database
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT, Settings
from application.cases import ActionRejected
from support.case.actions import (
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
)
from support.case.view import CaseView, SurveyOutcome
from support.policies.vocabulary import CaseStatus, Severity
from support.rules.cooperation import RequestState
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clock_state import ClockState
from tests.conftest import running_worker
from tests.deliveries import delivered
from tests.requests import case_request

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
PRODUCT: Calendar = POLICY.calendars["product"]
ENGINEER = "li.wei"


async def sent(settings: Settings, case_id: str, *expected: str) -> list[str]:
    """Delivered notification ids without their audience: 'case-x/downgraded/1' once per audience told."""
    return [i.rsplit("/", 1)[0] for i in await delivered(settings, case_id, *expected, settle=0.2)]


def archived_view(settings: Settings, case_id: str) -> CaseView | None:
    """The final view the case left in closed_cases."""
    engine = open_database(settings)
    try:
        return read_closed_case(engine, case_id)
    finally:
        engine.dispose()


def kinds(view: CaseView) -> list[str]:
    return [e.kind for e in view.timeline]


async def settle(env: WorkflowEnvironment) -> None:
    """Let the workflow act on what an update just changed (it runs after the update returns)."""
    await env.sleep(timedelta(seconds=1))


async def sleep_until_local(env: WorkflowEnvironment, hour: int, minute: int = 0) -> datetime:
    """Skip to the next hh:mm in Shanghai (the time-skipping server starts at the real clock)."""
    now = (await env.get_current_time()).astimezone(SHANGHAI)
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now + timedelta(minutes=1):
        target += timedelta(days=1)
    await env.sleep(target - now)
    return target


# -- cooperation and downgrade ------


async def test_missing_impact_analysis_reminds_then_downgrades_a_to_b(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        opened = (await cases.open(case_request(request_id, severity="A"))).case
        case_id = opened.case_id
        assert {r.request_id for r in opened.customer_requests} == {
            "impact_analysis",
            "reachable_contacts",
            "contact_data",
        }
        await cases.act(case_id, Cooperation(request_id="reachable_contacts", details="Wang Fang, 24x7"))
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Investigating"))

        await time_env.sleep(timedelta(minutes=61))  # A: 2h to cooperate, reminders at 50% and 75%
        view = await cases.show(case_id)
        assert kinds(view).count("cooperation_reminder") == 1 and view.severity is Severity.A
        await time_env.sleep(timedelta(minutes=30))
        view = await cases.show(case_id)
        assert kinds(view).count("cooperation_reminder") == 2 and view.severity is Severity.A

        await time_env.sleep(timedelta(minutes=30))
        view = await cases.show(case_id)

    assert view.severity is Severity.B and view.calendar == "product"
    downgrade = view.severity_history[-1]
    assert (downgrade.previous, downgrade.severity, downgrade.actor) == (Severity.A, Severity.B, "system")
    assert "business-impact analysis" in downgrade.reason
    assert view.opened_at is not None
    assert timedelta(0) <= downgrade.at - (view.opened_at + timedelta(hours=2)) < timedelta(seconds=1)
    states = {r.request_id: r.state for r in view.customer_requests}
    assert states == {
        "impact_analysis": RequestState.WAIVED,  # B does not require it
        "reachable_contacts": RequestState.ANSWERED,
        "contact_data": RequestState.ANSWERED,
    }
    # the customer-update clock now runs on the B target and calendar, from its own start
    clock = view.customer_update
    assert clock is not None and clock.due is not None and clock.target == "1 business day"
    assert clock.due == PRODUCT.add(clock.started_at, timedelta(hours=15))
    ids = await sent(settings, case_id, "/downgraded/1/")
    assert f"{case_id}/downgraded/1" in ids
    assert ids.count(f"{case_id}/downgraded/1") == 2, (
        "the customer and the support queue (A: not the AM after B)"
    )
    assert sum("cooperation_reminder_impact_analysis" in i for i in ids) == 2


async def test_silent_c_case_is_closed_unresponsive_with_a_final_notice(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="C"))).case.case_id
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Can you confirm your contacts?"))
        await time_env.sleep(timedelta(days=5))  # C: 2 business days (30 h) to cooperate
        final = await cases.show(case_id)

    assert final.status is CaseStatus.CLOSED_UNRESPONSIVE and final.severity is Severity.C
    assert kinds(final).count("cooperation_reminder") == 2
    assert kinds(final)[-1] == "closed_unresponsive"
    assert f"{case_id}/closed_unresponsive/0" in await sent(settings, case_id, "/closed_unresponsive/")
    archived = archived_view(settings, case_id)
    assert archived is not None and archived.status is CaseStatus.CLOSED_UNRESPONSIVE


# -- pauses ------


async def test_overnight_pause_moves_the_update_deadline_by_business_time_only(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        await sleep_until_local(time_env, 20, 55)
        case_id = (await cases.open(case_request(request_id, "fabrikam", severity="B"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await sleep_until_local(time_env, 21, 0)
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking"))
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert view.customer_update is not None
        due_before = view.customer_update.due
        assert due_before is not None

        await sleep_until_local(time_env, 22, 0)
        await cases.act(
            case_id, CustomerActionRequest(engineer=ENGINEER, what="Send the message trace for user 42")
        )
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert view.customer_update is not None and view.customer_update.state is ClockState.PAUSED
        await sleep_until_local(time_env, 10, 0)  # overnight: 2 h (22-24) + 1 h (09-10) of business time
        await cases.act(case_id, Cooperation(request_id="request-1", details="trace.zip attached"))
        await settle(time_env)
        view = await cases.show(case_id)

    clock = view.customer_update
    assert clock is not None and clock.state is ClockState.RUNNING and clock.due is not None
    moved = PRODUCT.elapsed(due_before, clock.due)
    assert abs(moved - timedelta(hours=3)) < timedelta(seconds=1)  # the test's own steps take a few ms
    [pause] = view.pauses
    assert (pause.paused_by, pause.resumed_by) == (ENGINEER, "customer")
    assert "message trace" in pause.reason
    assert pause.resumed_at is not None
    assert pause.resumed_at.astimezone(SHANGHAI).hour == 10
    wall = pause.resumed_at - pause.paused_at
    assert abs(wall - timedelta(hours=12)) < timedelta(seconds=1), (
        "12 h paused on the wall clock, 3 h of business"
    )
    assert not [k for k in kinds(view) if k.startswith("customer_update_")], "nothing fires while paused"


async def test_no_update_warning_or_breach_fires_while_paused(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="A"))).case.case_id
        for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
            await cases.act(case_id, Cooperation(request_id=obligation, details="done"))
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking"))
        await cases.act(case_id, CustomerActionRequest(engineer=ENGINEER, what="Run the probe"))
        await time_env.sleep(timedelta(minutes=100))  # A updates every 4h: 50% would be at 2h of running time
        await cases.act(case_id, Cooperation(request_id="request-1", details="probe output"))
        await time_env.sleep(timedelta(hours=2, minutes=1))
        view = await cases.show(case_id)
    assert view.severity is Severity.A
    assert view.customer_update is not None
    assert view.customer_update.warnings_sent == ["customer_update_warning_50"]
    assert not view.sla_breached


# -- customer updates and follow-ups ------


async def test_missed_customer_update_is_a_breach_and_an_update_starts_the_next_cycle(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="A"))).case.case_id
        for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
            await cases.act(case_id, Cooperation(request_id=obligation, details="done"))
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking"))
        await time_env.sleep(timedelta(hours=4, minutes=1))
        view = await cases.show(case_id)
        assert view.sla_breached and view.customer_update is not None
        assert view.customer_update.state is ClockState.BREACHED
        await cases.act(case_id, CustomerUpdate(engineer=ENGINEER, message="Fix rolling out"))
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        await time_env.sleep(timedelta(hours=1))
        view = await cases.show(case_id)
    results = [(r.clock, r.cycle, r.state) for r in view.sla_results]
    assert results == [
        ("first_response", 0, ClockState.MET),
        ("customer_update", 0, ClockState.BREACHED),
        ("customer_update", 1, ClockState.RUNNING),
    ]
    ids = await sent(settings, case_id, "/customer_update_breached/0/", "/follow_up/1/")
    assert f"{case_id}/customer_update_breached/0" in ids
    assert f"{case_id}/customer_update/0" in ids
    # A: follow-up to the assigned engineer after 2h of no activity
    assert f"{case_id}/follow_up/1" in ids


# -- severity changes ------


async def test_severity_change_after_a_pause_keeps_the_pause(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        await sleep_until_local(time_env, 11, 0)
        case_id = (await cases.open(case_request(request_id, "fabrikam", severity="B"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking"))
        await time_env.sleep(timedelta(hours=1))
        await cases.act(case_id, CustomerActionRequest(engineer=ENGINEER, what="Screenshots"))
        await time_env.sleep(timedelta(hours=3))
        await cases.act(case_id, Cooperation(request_id="request-1", details="attached"))
        await time_env.sleep(timedelta(hours=1))
        await cases.act(
            case_id,
            SeverityChangeRequest(engineer="zhang.min", severity=Severity.C, reason="workaround in place"),
        )
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
    clock = view.customer_update
    assert clock is not None and clock.due is not None and clock.target == "2 business days"
    [pause] = view.pauses
    assert pause.resumed_at is not None
    paused = PRODUCT.elapsed(pause.paused_at, pause.resumed_at)
    assert abs(paused - timedelta(hours=3)) < timedelta(seconds=1)  # the test itself takes a few ms
    assert PRODUCT.elapsed(clock.started_at, clock.due) - paused == timedelta(hours=30)
    change = view.severity_history[-1]
    assert (change.previous, change.severity, change.actor, change.reason) == (
        Severity.B,
        Severity.C,
        "zhang.min",
        "workaround in place",
    )


async def test_change_to_a_severity_whose_target_is_past_breaches_at_once(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, "fabrikam", severity="C"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await time_env.sleep(
            timedelta(hours=25)
        )  # 15-16 h of business time: past B's 15 h, before C's 22.5 h
        view = await cases.show(case_id)
        assert not view.sla_breached and view.first_response is not None
        assert view.first_response.warnings_sent == []
        await cases.act(
            case_id,
            SeverityChangeRequest(engineer="zhang.min", severity=Severity.B, reason="more users affected"),
        )
        await settle(time_env)
        view = await cases.show(case_id)
    clock = view.first_response
    assert clock is not None and clock.state is ClockState.BREACHED and view.sla_breached
    assert clock.warnings_sent == [], "a deadline already gone is a breach, not a string of warnings"
    assert clock.breached_at is not None
    assert clock.breached_at - view.severity_history[-1].at < timedelta(seconds=2)
    assert f"{case_id}/sla_breached/0" in await sent(settings, case_id, "/sla_breached/0/")


@pytest.mark.parametrize(
    ("tenant", "category", "to", "reason"),
    [
        ("fabrikam", "technical", Severity.A, "needs a premium support agreement"),
        ("contoso", "billing", Severity.A, "billing cases are at most severity B"),
    ],
)
async def test_severity_change_against_entitlement_is_refused_with_the_reason(
    time_env: WorkflowEnvironment,
    settings: Settings,
    request_id: str,
    tenant: str,
    category: str,
    to: Severity,
    reason: str,
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (
            await cases.open(case_request(request_id, tenant, severity="B", category=category))
        ).case.case_id
        with pytest.raises(ActionRejected, match=reason):
            await cases.act(
                case_id, SeverityChangeRequest(engineer=ENGINEER, severity=to, reason="customer insists")
            )
        view = await cases.show(case_id)
    assert view.severity is Severity.B and len(view.severity_history) == 1


# -- resolution, reopen, survey ------


async def test_reopen_within_window_then_survey_answered_without_reminder(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="C"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await cases.act(case_id, Resolution(engineer=ENGINEER, summary="Cache cleared"))
        await time_env.sleep(timedelta(days=2))
        await cases.act(case_id, ReopenRequest(requester="admin@contoso.example", reason="It is back"))
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert view.status is CaseStatus.IN_PROGRESS and view.reopened_count == 1
        assert view.customer_update is not None and view.customer_update.state is ClockState.RUNNING
        await cases.act(case_id, Resolution(engineer=ENGINEER, summary="Profile rebuilt"))
        await time_env.sleep(timedelta(days=7, minutes=1))
        assert (await cases.show(case_id)).status is CaseStatus.CLOSED
        await cases.act(case_id, SurveyAnswer(score=4, comment="Quick, thanks"))
        await time_env.sleep(timedelta(days=8))
        final = await cases.show(case_id)
    assert final.survey is not None
    assert (final.survey.outcome, final.survey.score) == (SurveyOutcome.ANSWERED, 4)
    assert "survey_reminder" not in kinds(final)
    ids = await sent(settings, case_id, "/survey/0/", "/resolved/1/")
    assert f"{case_id}/survey/0" in ids and f"{case_id}/survey_reminder/0" not in ids
    assert f"{case_id}/resolved/0" in ids and f"{case_id}/resolved/1" in ids
    archived = archived_view(settings, case_id)
    assert archived is not None and archived.survey is not None and archived.survey.score == 4


async def test_reopen_after_the_window_is_refused(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="C"))).case.case_id
        await cases.act(case_id, Resolution(engineer=ENGINEER, summary="Done"))
        await time_env.sleep(timedelta(days=7, minutes=1))
        with pytest.raises(ActionRejected, match="only a resolved case can be reopened; this case is closed"):
            await cases.act(case_id, ReopenRequest(requester="admin@contoso.example", reason="Again"))


# -- continue-as-new ------


def tiny_history_settings(settings: Settings, tmp_path: Path) -> Settings:
    policy = tmp_path / "tiny-history.toml"
    policy.write_text(
        (PROJECT_ROOT / "policy.toml")
        .read_text()
        .replace("continue_as_new_after_events = 5000", "continue_as_new_after_events = 20")
    )
    return settings.replace(task_queue=settings.task_queue + "-tiny", policy_path=policy)


def story(view: CaseView, notifications: list[str]) -> dict[str, object]:
    """What must be the same for two runs of the same script, whatever the run ids and ms."""
    return {
        "status": view.status,
        "timeline": [(e.kind, e.actor) for e in view.timeline],
        "severities": [h.severity for h in view.severity_history],
        "sla": [(r.clock, r.cycle, r.state) for r in view.sla_results],
        "follow_ups": view.follow_ups_sent,
        "survey": (view.survey.outcome, view.survey.score) if view.survey else None,
        "notifications": sorted(n.split("/", 1)[1] for n in notifications),
    }


async def test_continue_as_new_case_ends_identical_to_one_that_did_not(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: Path
) -> None:
    tiny = tiny_history_settings(settings, tmp_path)
    async with (
        running_worker(time_env.client, settings) as plain,
        running_worker(time_env.client, tiny) as small,
    ):
        ids = {}
        for name, cases in (("plain", plain), ("tiny", small)):
            ids[name] = (
                await cases.open(case_request(f"{request_id}-{name}", "fabrikam", severity="B"))
            ).case.case_id
        first_runs = {
            n: (await time_env.client.get_workflow_handle(i).describe()).run_id for n, i in ids.items()
        }

        async def both(action: BaseModel) -> None:
            for name, cases in (("plain", plain), ("tiny", small)):
                await cases.act(ids[name], action)
            # The time-skipping test server does not move an update that races a continue-as-new to
            # the new run (the real server does), so each step settles before the next, in both cases.
            await time_env.sleep(timedelta(seconds=2))

        await both(Cooperation(request_id="contact_data", details="confirmed"))
        await both(FirstResponse(engineer=ENGINEER, message="Looking"))
        await time_env.sleep(timedelta(days=4))  # idle follow-ups and missed updates pile up
        await both(CustomerUpdate(engineer=ENGINEER, message="Still on it"))
        await time_env.sleep(timedelta(days=2))
        await both(Resolution(engineer=ENGINEER, summary="Patched"))
        await time_env.sleep(timedelta(days=7, minutes=1))
        await both(SurveyAnswer(score=5))
        await time_env.sleep(timedelta(days=1))
        finals = {n: await (plain if n == "plain" else small).show(i) for n, i in ids.items()}
        last_runs = {
            n: (await time_env.client.get_workflow_handle(i).describe()).run_id for n, i in ids.items()
        }

    assert last_runs["tiny"] != first_runs["tiny"], "the tiny-history case really continued as new"
    assert last_runs["plain"] == first_runs["plain"]
    assert finals["tiny"].follow_ups_sent >= 3
    assert story(finals["tiny"], await sent(settings, ids["tiny"])) == story(
        finals["plain"], await sent(settings, ids["plain"])
    )

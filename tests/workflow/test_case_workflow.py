"""The case workflow on the time-skipping server, with the real activities and policy.toml."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.policy_file import load_policy_snapshot
from adapters.settings import Settings
from application.cases import ActionRejected, Cases, RequestConflict
from support.case.actions import FirstResponse, Resolution
from support.case.view import CaseView
from support.policies.vocabulary import Agreement, CaseStatus, Severity
from support.rules.entitlement import case_calendar
from support.sla_clocks.clock_state import ClockState
from tests.conftest import case_clock, running_worker
from tests.deliveries import events
from tests.requests import case_request
from workflows import search_attributes as sa


def expected_due(settings: Settings, view: CaseView, tenant_zone: str) -> object:
    """The deadline computed straight from policy.toml for what the case was opened as."""
    assert view.opened_at is not None and view.severity is not None
    policy = load_policy_snapshot(settings.policy_path, view.opened_at.year)
    calendar = case_calendar(policy, view.category, view.severity, tenant_zone)
    return calendar.add(view.opened_at, policy.severities[view.severity].first_response.on(calendar))


@pytest.mark.parametrize(
    ("tenant", "category", "requested", "severity", "calendar", "zone"),
    [
        ("contoso", "technical", "A", Severity.A, "always", "Asia/Shanghai"),
        ("contoso", "technical", "B", Severity.B, "product", "Asia/Shanghai"),
        ("contoso", "technical", "C", Severity.C, "product", "Asia/Shanghai"),
        ("contoso", "billing", "A", Severity.B, "billing", "Asia/Shanghai"),
        ("fabrikam", "presales", "B", Severity.B, "presales", "Europe/Budapest"),
        ("fabrikam", "technical", "A", Severity.B, "product", "Asia/Shanghai"),
    ],
)
async def test_deadline_follows_severity_and_calendar(
    time_env: WorkflowEnvironment,
    settings: Settings,
    request_id: str,
    tenant: str,
    category: str,
    requested: str,
    severity: Severity,
    calendar: str,
    zone: str,
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        opened = await cases.open(case_request(request_id, tenant, category=category, severity=requested))
        sent = await events(
            settings, opened.case.case_id, "/acknowledged/0/customer", "/new_case/0/support_queue"
        )
    view = opened.case
    assert opened.created
    assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE
    assert (view.severity, view.calendar, view.time_zone) == (severity, calendar, zone)
    assert view.first_response is not None and view.opened_at is not None
    tenant_zone = "Europe/Budapest" if tenant == "fabrikam" else "Asia/Shanghai"
    assert view.first_response.due == expected_due(settings, view, tenant_zone)
    due = view.first_response.due
    assert due is not None
    if severity is Severity.A:
        assert due - view.opened_at == timedelta(hours=1)
    else:  # business days are never shorter in wall-clock time than their business hours
        assert due - view.opened_at >= view.first_response.business_time
    if requested != severity.value:
        capped = [e for e in view.timeline if e.kind == "severity_capped"]
        assert capped, "a capped severity must say why in the timeline"
        assert view.severity_history[0].reason == capped[0].message.split(": ", 1)[1]
    assert ("acknowledged", "customer") in sent and ("new_case", "support_queue") in sent


async def test_warnings_then_breach_then_late_response(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = (await cases.open(case_request(request_id))).case
        case_id = view.case_id
        assert view.first_response is not None
        assert [c.event for c in view.first_response.checkpoints] == [
            "sla_warning_50",
            "sla_warning_80",
            "sla_breached",
        ]

        await time_env.sleep(timedelta(minutes=31))
        view = await cases.show(case_id)
        assert view.first_response is not None
        assert view.first_response.warnings_sent == ["sla_warning_50"]
        assert view.first_response.state is ClockState.RUNNING

        await time_env.sleep(timedelta(minutes=18))
        view = await cases.show(case_id)
        assert view.first_response is not None
        assert view.first_response.warnings_sent == ["sla_warning_50", "sla_warning_80"]
        assert not view.sla_breached

        await time_env.sleep(timedelta(minutes=12))
        view = await cases.show(case_id)
        assert view.first_response is not None
        assert view.sla_breached and view.first_response.state is ClockState.BREACHED
        assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE, "a breached case keeps waiting"
        description = await time_env.client.get_workflow_handle(case_id).describe()
        assert description.typed_search_attributes.get(sa.SLA_BREACHED) is True

        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking at it now"))
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert view.status is CaseStatus.IN_PROGRESS
        assert view.first_response is not None
        assert view.first_response.state is ClockState.BREACHED
        assert view.first_response.answered_by == "li.wei"
        assert view.first_response.business_time_to_answer is not None
        assert view.first_response.business_time_to_answer > timedelta(hours=1)

    sent = await events(
        settings, case_id, "/sla_warning_50/", "/sla_warning_80/", "/sla_breached/", settle=0.2
    )
    assert ("sla_warning_50", "support_queue") in sent
    assert ("sla_warning_80", "support_queue") in sent
    assert ("sla_breached", "duty_manager") in sent
    assert len(sent) == len(set(sent)), "each notification is delivered once"


async def test_response_before_first_warning_stops_the_clock(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id))).case.case_id
        await time_env.sleep(timedelta(minutes=10))
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="On it"))
        await time_env.sleep(timedelta(hours=3))
        view = await cases.show(case_id)
    assert view.first_response is not None
    assert view.first_response.state is ClockState.MET
    assert view.first_response.warnings_sent == []
    assert not view.sla_breached
    assert not [e for e in view.timeline if e.kind.startswith("sla_")]
    assert not [e for e, _ in await events(settings, case_id, settle=0.3) if e.startswith("sla_")]


async def test_same_request_twice_is_one_case(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        first = await cases.open(case_request(request_id))
        handle = time_env.client.get_workflow_handle(first.case.case_id)
        first_run = (await handle.describe()).run_id
        again = await cases.open(case_request(request_id))
        with pytest.raises(RequestConflict, match="already used for another request"):
            await cases.open(case_request(request_id, title="Another request under the same id"))
        second_run = (await handle.describe()).run_id
    assert first.created and not again.created
    assert again.case.case_id == first.case.case_id
    assert again.case.title == first.case.title, "the existing case is returned, not a new one"
    assert first_run == second_run, "no second workflow run was started"


async def test_resolve_then_close_after_reopen_window_and_survey(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="C"))).case.case_id
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Please try a new profile"))
        await cases.act(case_id, Resolution(engineer="li.wei", summary="Profile rebuilt"))
        resolved = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert resolved.status is CaseStatus.RESOLVED
        assert resolved.reopen_until is not None and resolved.resolved_at is not None
        assert resolved.reopen_until - resolved.resolved_at == timedelta(days=7)
        await time_env.sleep(timedelta(days=6, hours=23))
        assert (await cases.show(case_id)).status is CaseStatus.RESOLVED
        await time_env.sleep(timedelta(hours=1, seconds=1))
        closed = await cases.show(case_id)
        assert closed.status is CaseStatus.CLOSED and closed.survey is not None
        await time_env.sleep(timedelta(days=8))
        final = await cases.show(case_id)  # read from the completed workflow's result
    assert final.status is CaseStatus.CLOSED and final.closed_at is not None
    assert timedelta(0) <= final.closed_at - resolved.reopen_until < timedelta(seconds=1)
    kinds = [e.kind for e in final.timeline]
    assert kinds[:3] == ["opened", "obligations_requested", "first_response"]
    assert kinds[-4:] == ["resolved", "closed", "survey_reminder", "survey_expired"]
    sent = await events(settings, case_id, "/resolved/", "/survey/")
    assert ("resolved", "customer") in sent and ("survey", "customer") in sent


async def test_resolve_without_separate_response_counts_as_first_response(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id))).case.case_id
        await cases.act(case_id, Resolution(engineer="li.wei", summary="Service restored"))
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
    assert view.first_response is not None
    assert view.first_response.state is ClockState.MET
    assert view.first_response.answered_by == "li.wei"


async def test_rejected_actions_say_why_and_change_nothing(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id))).case.case_id
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="On it"))
        before = await cases.show(case_id)
        with pytest.raises(ActionRejected, match=r"already given by li\.wei"):
            await cases.act(case_id, FirstResponse(engineer="zhang.min", message="Me too"))
        after = await cases.show(case_id)
    assert after == before


async def test_unknown_tenant_is_refused_not_crashed(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    # The installation's gateway refuses a requester of no tenant's directory before any case
    # (tests/system/test_intake_security.py); a tenant gone from the directory after that check, or a
    # gateway without it, still reaches the case, which refuses it.
    async with running_worker(time_env.client, settings):
        cases = Cases(time_env.client, settings.task_queue, case_clock=case_clock(time_env.client))
        opened = await cases.open(case_request(request_id, tenant="no-such-tenant"))
        result = await time_env.client.get_workflow_handle(opened.case.case_id, result_type=CaseView).result()
        again = await cases.open(case_request(request_id, tenant="no-such-tenant"))
    assert opened.case.status is CaseStatus.REFUSED
    assert not again.created, "the same request again: the ended case"
    # its record, beside the request's words (read from its input)
    assert again.case.request is not None and again.case.model_copy(update={"request": None}) == result
    assert result.refusal is not None and result.refusal.code == "unknown_tenant"
    assert ("refused", "customer") in await events(settings, opened.case.case_id, "/refused/")


def test_agreement_enum_covers_directory() -> None:
    assert {a.value for a in Agreement} == {"standard", "premium"}

"""Intake inside the workflow: refusals, phone verification, incidents (time-skipping server)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import text_of
from adapters.settings import Settings
from application.cases import Cases
from bootstrap.gateway import verification_gate
from support.case.view import CaseView
from support.policies.vocabulary import CaseStatus
from tests.conftest import case_clock, running_worker
from tests.deliveries import delivered, mails, verification_code
from tests.requests import case_request
from tests.workflow.test_verification import verify
from workflows import search_attributes as sa

UNREGISTERED = "+8613900000001"
REGISTERED = "+862155550100"  # contoso's registered phone in directory.toml


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def phone_case(cases: Cases, request_id: str, caller: str) -> CaseView:
    request = case_request(request_id, channel="phone", caller_number=caller)
    return (await cases.open(request)).case


@pytest.mark.parametrize(
    ("tenant", "overrides", "code"),
    [
        ("contoso", {"requester": "staff@contoso.example"}, "not_admin"),
        ("northwind", {"requester": "ops@northwind.example"}, "partner_referral"),
        ("contoso", {"scope": "third_party_addin"}, "out_of_scope"),
        ("contoso", {"scope": "customer_network"}, "out_of_scope"),
        ("acme", {}, "unknown_tenant"),
    ],
)
async def test_each_refusal_is_a_normal_result_with_a_reason(
    time_env: WorkflowEnvironment,
    settings: Settings,
    request_id: str,
    tenant: str,
    overrides: dict[str, str],
    code: str,
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        if tenant == "acme":  # the installation's gateway refuses a requester of no tenant (a 422,
            # tests/system/test_intake_security.py); one without the directory check reaches the case
            cases = Cases(time_env.client, settings.task_queue, case_clock=case_clock(time_env.client))
        view = (await cases.open(case_request(request_id, tenant, **overrides))).case
        await time_env.sleep(timedelta(seconds=1))
        final = await cases.show(view.case_id)
    assert final.status is CaseStatus.REFUSED
    assert final.refusal is not None and final.refusal.code == code and final.refusal.message
    assert final.first_response is None, "a refused request is not a case: no clocks"
    assert [i.split("/")[1] for i in await delivered(settings, view.case_id, "/refused/", settle=0.2)] == [
        "refused"
    ]


async def test_registered_caller_needs_no_code(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = await phone_case(cases, request_id, REGISTERED)
    assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE and view.verification is None
    assert not [i for i in await delivered(settings, view.case_id, settle=0.2) if "verification_code" in i]


async def test_right_code_opens_the_case_and_the_code_is_never_shown(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = await phone_case(cases, request_id, UNREGISTERED)
        assert view.status is CaseStatus.AWAITING_VERIFICATION
        assert view.verification is not None and view.verification.sent_to == "i***@contoso.example"
        code = await verification_code(settings, view.case_id)
        [sent] = [
            m
            for m in mails(settings, view.case_id)
            if "verification_code" in str(m["X-Casework-Notification"])
        ]
        assert sent["To"] == "it-desk@contoso.example"
        result = await verify(time_env.client, verification_gate(settings), view.case_id, code)
        assert result.verified
        await time_env.sleep(timedelta(seconds=1))
        opened = await cases.show(view.case_id)
        description = await time_env.client.get_workflow_handle(view.case_id).describe()
    assert opened.status is CaseStatus.AWAITING_FIRST_RESPONSE
    assert "caller_verified" in [e.kind for e in opened.timeline]
    assert code not in opened.model_dump_json(), "the code is not in the query result"
    assert code not in json.dumps({k.name: str(v) for k, v in description.typed_search_attributes})


async def test_wrong_codes_count_down_then_lock(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = await phone_case(cases, request_id, UNREGISTERED)
        code = await verification_code(settings, view.case_id)
        bad = wrong(code)
        gate = verification_gate(settings)
        remaining = []
        for _ in range(4):
            result = await verify(time_env.client, gate, view.case_id, bad)
            assert not result.verified and result.status == "pending"
            remaining.append(result.remaining_attempts)
        last = await verify(time_env.client, gate, view.case_id, bad)
        await time_env.sleep(timedelta(seconds=1))
        final = await cases.show(view.case_id)
        with pytest.raises(RPCError):  # the case has ended: it takes no update
            await verify(time_env.client, gate, view.case_id, code)
    assert remaining == [4, 3, 2, 1]
    assert (last.verified, last.status, last.remaining_attempts) == (False, "locked", 0)
    assert final.status is CaseStatus.REFUSED and final.refusal is not None
    assert final.refusal.code == "verification_locked"


async def test_no_right_code_in_ten_minutes_expires(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = await phone_case(cases, request_id, UNREGISTERED)
        await time_env.sleep(timedelta(minutes=9))
        assert (await cases.show(view.case_id)).status is CaseStatus.AWAITING_VERIFICATION
        await time_env.sleep(timedelta(minutes=1, seconds=1))
        final = await cases.show(view.case_id)
    assert final.status is CaseStatus.REFUSED and final.refusal is not None
    assert final.refusal.code == "verification_expired"


async def test_active_incident_is_named_and_linked(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = (await cases.open(case_request(request_id, service="teams", title="Calls drop"))).case
        description = await time_env.client.get_workflow_handle(view.case_id).describe()
    assert view.incident is not None and view.incident.incident_id == "INC-2026-0042"
    assert description.typed_search_attributes.get(sa.INCIDENT_ID) == "INC-2026-0042"
    await delivered(settings, view.case_id, "/acknowledged/")
    [ack] = [
        m for m in mails(settings, view.case_id) if "/acknowledged/" in str(m["X-Casework-Notification"])
    ]
    body = text_of(ack)
    assert "INC-2026-0042" in body and "Teams calls drop" in body
    assert "Support is working on cases now." in body, "severity A runs on the 24x7 calendar"
    assert "(Asia/Shanghai)" in body, "times are shown in the customer's zone, named"

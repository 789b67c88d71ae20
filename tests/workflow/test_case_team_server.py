"""Issue 15 on real servers: assignment, internal notes, withdrawal and the customer's actions
answered truthfully, over the HTTP API with each role's key (dev server, worker, SMTP sink), and
follow-ups moving to a new assignee (time-skipping server). The rules themselves are told as pure
stories in tests/unit/test_case_team.py; these check what only the stack shows: status codes, the
portal's view, the mail that really went out, the assignee filter of the list."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import text_of
from adapters.settings import Settings
from application.cases import ActionRejected, Cases
from interfaces.cli.main import EXIT_INVALID, EXIT_REJECTED, Services, main
from support.case.actions import (
    Assignment,
    AttachmentRef,
    Cooperation,
    CustomerActionRequest,
    CustomerReply,
    FirstResponse,
    Withdrawal,
)
from support.rules.customer_replies import ALREADY_RECEIVED
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.system.test_api import Api, api, as_key, body, case_of  # noqa: F401  (the api fixture)

SECRET = "Internal: the customer's tenant is on the legacy MX cluster; do not mention it."
ASSIGNEE_EMAIL = "zhang.min@casework.example"  # staff.toml
CUSTOMER_EMAIL = "admin@contoso.example"


def refused(response: Any, fragment: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "rejected" and fragment in response.json()["message"], response.text


async def test_notes_assignment_withdrawal_and_truthful_customer_actions_over_the_api(
    api: Api,  # noqa: F811  (the fixture imported above)
    request_id: str,
) -> None:
    http, case = api.client, case_of(request_id)
    agent, portal = as_key("li.wei"), as_key("contoso-portal")
    opened = await http.post("/cases", json=body(request_id, severity="B"))
    assert opened.status_code == 201, opened.text

    # The customer's actions the case would ignore are refused with its reason.
    unknown = {"request_id": "request-9", "details": "here"}
    refused(await http.post(f"/cases/{case}/cooperation", json=unknown, headers=portal), "no request")
    refused(await http.post(f"/cases/{case}/survey", json={"score": 5}, headers=portal), "not been sent")
    reopen = {"requester": CUSTOMER_EMAIL, "reason": "It is back"}
    refused(await http.post(f"/cases/{case}/reopen", json=reopen, headers=portal), "only a resolved case")

    # Only a name of the staff list can be assigned: a field error before the case is asked.
    stranger = await http.post(
        f"/cases/{case}/assignment", json={"assignee": "nobody.here", "reason": "try"}, headers=agent
    )
    assert stranger.status_code == 422, stranger.text
    assert stranger.json()["fields"] == [{"field": "body.assignee", "message": "not on the staff list"}]

    assert (await http.post(f"/cases/{case}/respond", json={"message": "On it"}, headers=agent)).is_success
    noted = await http.post(f"/cases/{case}/notes", json={"note": SECRET}, headers=agent)
    assert noted.status_code == 200 and noted.json()["clocks_moved"] == [], noted.text  # a receipt
    assert (await http.get(f"/cases/{case}", headers=agent)).json()["notes"][-1]["note"] == SECRET
    handover = {"assignee": "zhang.min", "reason": "li.wei is on leave"}
    assigned = await http.post(f"/cases/{case}/assignment", json=handover, headers=agent)
    assert assigned.status_code == 200, assigned.text
    assert (await http.get(f"/cases/{case}", headers=agent)).json()["assigned_engineer"] == "zhang.min"
    refused(await http.post(f"/cases/{case}/assignment", json=handover, headers=agent), "already holds")

    # The portal sees the case without staff's notes and entries, in every answer it gets.
    shown = await http.get(f"/cases/{case}", headers=portal)
    answered = await http.post(
        f"/cases/{case}/cooperation", json={"request_id": "contact_data", "details": "ok"}, headers=portal
    )
    assert answered.status_code == 200, answered.text
    receipt = answered.json()
    assert set(receipt) == {"case_id", "status", "clocks_moved", "sequence", "facts"}
    assert receipt["facts"] is None, "a receipt names no one to the customer"
    for response in (shown, answered):
        assert SECRET not in response.text and "li.wei is on leave" not in response.text
    view = shown.json()
    assert view["notes"] == [] and view["assigned_engineer"] is None
    assert not [e for e in view["timeline"] if e["internal"]]
    staff_view = (await http.get(f"/cases/{case}", headers=agent)).json()
    assert [e["kind"] for e in staff_view["timeline"] if e["internal"]] == ["note", "assigned"]

    listed: list[dict[str, Any]] = []
    for _ in range(50):  # visibility is eventually consistent
        listed = (await http.get("/cases", params={"assignee": "zhang.min"}, headers=agent)).json()
        if listed:
            break
        await asyncio.sleep(0.1)
    assert [(c["case_id"], c["assigned_engineer"]) for c in listed] == [(case, "zhang.min")]
    by_portal = await http.get("/cases", params={"assignee": "zhang.min"}, headers=portal)
    assert by_portal.status_code == 403, by_portal.text
    assert [c["assigned_engineer"] for c in (await http.get("/cases", headers=portal)).json()] == [None]

    # Withdrawal: closed without a survey, the assignee told, the customer confirmed.
    withdrawal = {"requester": CUSTOMER_EMAIL, "reason": "It fixed itself"}
    withdrawn = await http.post(f"/cases/{case}/withdrawal", json=withdrawal, headers=portal)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn", withdrawn.text
    assert (await http.get(f"/cases/{case}", headers=portal)).json()["survey"] is None
    refused(await http.post(f"/cases/{case}/withdrawal", json=withdrawal, headers=portal), "withdrawn")
    ids = await delivered(api.settings, case, "/withdrawn/0/customer", "/withdrawn/0/engineer", settle=0.5)
    assert not [i for i in ids if "/survey" in i]
    sent = mails(api.settings, case)
    assert any(m["To"] == ASSIGNEE_EMAIL and "Withdrawn" in m["Subject"] for m in sent)
    to_customer = [m for m in sent if m["To"] == CUSTOMER_EMAIL]
    assert to_customer and not [m for m in to_customer if SECRET in text_of(m)], "a note reached the customer"
    assert not [m for m in sent if SECRET in text_of(m)], "a note is told to nobody"


async def test_reassignment_moves_follow_ups_to_the_new_assignee(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="A"))).case.case_id
        for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
            await cases.act(case_id, Cooperation(request_id=obligation, details="done"))
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking"))
        handover = Assignment(engineer="duty.lead", assignee="zhang.min", reason="li.wei is on leave")
        await cases.act(case_id, handover)
        assert (await cases.show(case_id)).assigned_engineer == "zhang.min"
        await time_env.sleep(timedelta(hours=2, minutes=1))  # A: a follow-up after 2 h without activity
        await delivered(settings, case_id, "/assigned/1/engineer", "/follow_up/1/engineer")
        view = await cases.show(case_id)
    assert view.follow_ups_sent >= 1
    follow_ups = [m for m in mails(settings, case_id) if "Follow-up" in m["Subject"]]
    assert follow_ups and {m["To"] for m in follow_ups} == {ASSIGNEE_EMAIL}
    assert any(
        m["To"] == ASSIGNEE_EMAIL and "Assigned to you" in m["Subject"] for m in mails(settings, case_id)
    )


async def test_a_reply_lands_once_resumes_the_paused_clock_and_reaches_the_assignee(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    reply = CustomerReply(
        message_id=hashlib.sha256(b"<trace@mail.contoso.example>").hexdigest(),
        sender="a***@contoso.example",
        body="Here is the trace you asked for.",
        attachments=[
            AttachmentRef(attachment_id="a" * 64, filename="trace.txt", content_type="text/plain", size=9)
        ],
    )
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="B"))).case.case_id
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking"))
        await cases.act(case_id, CustomerActionRequest(engineer="li.wei", what="A trace"))
        paused = await cases.show(case_id)
        assert paused.customer_update is not None and not paused.customer_update.running
        first, again = await asyncio.gather(
            cases.receive_reply(case_id, reply), cases.receive_reply(case_id, reply)
        )
        assert first == again, "the same mail twice is one update: one answer"
        assert (await cases.show(case_id)).replies_received == 1, "the same mail twice is one message"
        try:
            await cases.receive_reply(case_id, reply)
            later = await cases.show(case_id)  # an action answers a receipt (issue 26)
            assert later.replies_received == 1
        except ActionRejected as rejected:
            assert str(rejected).startswith(ALREADY_RECEIVED)
        view = await cases.show(case_id)
        assert view.customer_update is not None and view.customer_update.running
        assert [a.filename for a in view.attachments] == ["trace.txt"]
        await delivered(settings, case_id, "/customer_replied/1/engineer", settle=0.3)
        await cases.act(case_id, Withdrawal(requester=CUSTOMER_EMAIL, reason="Solved by the trace"))
        other = reply.model_copy(update={"message_id": "b" * 64})
        with pytest.raises(ActionRejected):
            await cases.receive_reply(case_id, other)  # withdrawn: a reply to it does not land
    told = [m for m in mails(settings, case_id) if "客户已回复" in m["Subject"]]  # li.wei reads zh-CN
    assert len(told) == 1 and told[0]["To"] == "li.wei@casework.example"
    assert "Here is the trace" in text_of(told[0]) and "trace.txt" in text_of(told[0])


async def test_the_cli_exits_non_zero_with_the_case_reason(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`starter.py survey` before the survey, `assign` to a stranger: refused, never "sent"."""
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="B"))).case.case_id
        target = time_env.client.service_client.config.target_host

        async def gateway() -> Cases:  # the CLI's own connection, in the CLI's own event loop
            client = await Client.connect(target, data_converter=pydantic_data_converter)
            return Cases(client, settings.task_queue)

        services = Services(settings=settings, cases=gateway, database=unused, api=unused)
        survey = await asyncio.to_thread(main, ["survey", case_id, "--score", "5"], services)
        survey_err = capsys.readouterr().err
        assign = ["assign", case_id, "--engineer", "li.wei", "--to", "nobody.here", "--reason", "try"]
        stranger = await asyncio.to_thread(main, assign, services)
        stranger_err = capsys.readouterr().err
    assert survey == EXIT_REJECTED and "satisfaction survey has not been sent" in survey_err
    assert stranger == EXIT_INVALID and "assignee: not on the staff list" in stranger_err


def unused(*_: object) -> Any:
    raise AssertionError("not used by case commands")

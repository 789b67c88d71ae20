"""What an action costs the server (issue 26), over real HTTP against the real stack: one round
trip per action (the caller's tenants travel in the update, the case's validator refuses a foreign
caller), and a foreign tenant's action is a 404 like a missing case's, leaving no event; a console
click is the action and one read of the page it lands on."""

from __future__ import annotations

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.settings import Settings
from bench.round_trips import counted_client
from bootstrap.api import api_app
from bootstrap.gateway import build_cases
from bootstrap.worker_runtime import build_worker
from tests.system.test_api import as_key, body, case_of, keyring, serve
from tests.unit.test_console import csrf_of, sign_in

ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED


async def test_an_action_is_one_round_trip_and_a_foreign_tenants_is_a_404_that_records_nothing(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    client, trips = counted_client(dev_env.client)
    engine = open_database(settings)
    try:
        async with build_worker(dev_env.client, settings, engine=engine):
            app = api_app(settings, cases=build_cases(client, settings, engine), keyring=keyring())
            server, task, url = await serve(app)
            try:
                async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                    opened = await http.post(
                        "/cases", json=body(request_id), headers=as_key("contoso-portal")
                    )
                    assert opened.status_code == 201, opened.text
                    case = opened.json()["case"]["case_id"]
                    handle = dev_env.client.get_workflow_handle(case)

                    async def updates_taken() -> int:  # the case's deliveries go on meanwhile
                        events = (await handle.fetch_history()).events
                        return sum(e.event_type == ACCEPTED for e in events)

                    before = await updates_taken()

                    trips.calls.clear()
                    theirs = await http.post(
                        f"/cases/{case}/withdrawal",
                        json={"requester": "it@fabrikam.example", "reason": "not ours"},
                        headers=as_key("fabrikam-portal"),
                    )
                    assert theirs.status_code == 404, theirs.text
                    assert dict(trips.calls) == {"start_workflow_update": 1}, (
                        "refused by the case, no describe"
                    )
                    assert await updates_taken() == before, "the refusal recorded nothing"
                    missing = await http.post(
                        f"/cases/{case_of('never-' + request_id)}/withdrawal",
                        json={"requester": "it@fabrikam.example", "reason": "not ours"},
                        headers=as_key("fabrikam-portal"),
                    )
                    assert missing.status_code == 404
                    assert missing.json()["error"] == theirs.json()["error"] == "not_found"
                    assert theirs.json()["message"] == f"no case {case!r}", "the same words as a missing case"

                    trips.calls.clear()
                    ours = await http.post(
                        f"/cases/{case}/respond", json={"message": "Looking at it"}, headers=as_key("li.wei")
                    )
                    assert ours.status_code == 200, ours.text
                    assert dict(trips.calls) == {"start_workflow_update": 1}, "an engineer's action: one call"
                    shown = await http.get(f"/cases/{case}", headers=as_key("contoso-portal"))
                    assert shown.json()["status"] == "in_progress", (
                        "the customer's case is untouched by fabrikam"
                    )

                    # The console: a click is the action and one read of the page it lands on
                    # (the view, the actions the case takes now and its clock bars: one query).
                    await sign_in(http, "li.wei")
                    page = await http.get(f"/console/cases/{case}")
                    assert page.status_code == 200, page.text
                    trips.calls.clear()
                    clicked = await http.post(
                        f"/console/cases/{case}/actions/update",
                        data={"csrf": csrf_of(page.text), "message": "Still on it, the logs are in"},
                        follow_redirects=True,
                    )
                    assert clicked.status_code == 200, clicked.text
                    assert "Still on it, the logs are in" in clicked.text, "the page shows the update"
                    assert 'id="clock-customer_update"' in clicked.text, "and the clock it moved"
                    assert dict(trips.calls) == {"start_workflow_update": 1, "query_workflow": 1}, (
                        "a console click: act, then one read"
                    )
            finally:
                server.should_exit = True
                await task
    finally:
        engine.dispose()

"""Who may do what, over real HTTP against the real stack (dev server, worker, SQLite, SMTP sink).

Every role against every endpoint, from one table written here by hand: when an endpoint is added
to the API without a line in it, `test_every_endpoint_has_a_role` fails. Tenant scope on reads,
lists and actions; request ids per tenant; bodies bounded before they are parsed; limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from application.cases import Cases
from bootstrap.api import api_app
from support.identity.access import Permission, Role
from tests.conftest import running_worker
from tests.system.test_api import KEYS, as_key, body, case_of, keyring, serve

OPEN, READ, CUSTOMER, AGENT, REPORTS, OPERATE = (
    Permission.OPEN_CASE,
    Permission.READ_CASES,
    Permission.CUSTOMER_ACTION,
    Permission.AGENT_ACTION,
    Permission.READ_REPORTS,
    Permission.OPERATE,
)

# (method, path) -> the permission it needs, and a body that the case would accept or refuse on its
# merits (never for want of a role); for a GET, its query parameters.
ENDPOINTS: dict[tuple[str, str], tuple[Permission, dict[str, Any] | None]] = {
    ("POST", "/cases"): (OPEN, None),
    ("GET", "/cases"): (READ, None),
    ("GET", "/cases/{case_id}"): (READ, None),
    ("POST", "/cases/{case_id}/verification"): (CUSTOMER, {"code": "123456"}),
    ("POST", "/cases/{case_id}/respond"): (AGENT, {"message": "Looking at it"}),
    ("POST", "/cases/{case_id}/updates"): (AGENT, {"message": "Still looking"}),
    ("POST", "/cases/{case_id}/customer-requests"): (AGENT, {"what": "Send a message trace"}),
    ("POST", "/cases/{case_id}/severity"): (AGENT, {"severity": "B", "reason": "workaround in place"}),
    ("POST", "/cases/{case_id}/resolve"): (AGENT, {"summary": "MX record fixed"}),
    ("POST", "/cases/{case_id}/reopen"): (CUSTOMER, {"requester": "admin@contoso.example", "reason": "back"}),
    ("POST", "/cases/{case_id}/cooperation"): (CUSTOMER, {"request_id": "contact_data", "details": "ok"}),
    ("POST", "/cases/{case_id}/survey"): (CUSTOMER, {"score": 5}),
    ("POST", "/cases/{case_id}/assignment"): (AGENT, {"assignee": "zhang.min", "reason": "handover"}),
    ("POST", "/cases/{case_id}/notes"): (AGENT, {"note": "checked the MX records"}),
    ("POST", "/cases/{case_id}/accepted-obligations"): (AGENT, {"request_id": "contact_data"}),
    ("POST", "/cases/{case_id}/obligations-asked-again"): (
        AGENT,
        {"request_id": "contact_data", "reason": "the phone number is missing"},
    ),
    ("POST", "/cases/{case_id}/withdrawal"): (CUSTOMER, {"requester": "it@contoso.com", "reason": "gone"}),
    # the policy what-if (issue 25): operators only, its body a policy file (a JSON body is a 422)
    ("POST", "/reports/whatif"): (
        OPERATE,
        {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
    ),
    ("GET", "/reports/sla"): (REPORTS, {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}),
    ("GET", "/intake/expected-wait"): (OPEN, {"tenant": "contoso", "category": "technical", "severity": "B"}),
    # an attachment of a customer's email reply; the case here has none, so the allowed answer
    # is a 404 that names the attachment (tests/system/test_inbound_mail.py downloads real ones)
    ("GET", "/cases/{case_id}/attachments/{attachment_id}"): (READ, None),
    # the thread (issue 23): read it; write to support as the customer; upload a file for that
    ("GET", "/cases/{case_id}/messages"): (READ, None),
    # the SLA ledger (issue 25): each clock's segments, for whoever may read the case
    ("GET", "/cases/{case_id}/ledger"): (READ, None),
    ("POST", "/cases/{case_id}/messages"): (CUSTOMER, {"request_id": "c-1", "body": "It still fails"}),
    ("POST", "/cases/{case_id}/attachments"): (CUSTOMER, None),
    # a file uploaded before the opening that names it (issue 23): whoever may open a case
    ("POST", "/attachments"): (OPEN, None),
}
NO_ATTACHMENT = "0" * 64

ROLE_KEY = {
    Role.PORTAL: "contoso-portal",
    Role.PHONE: "phone-desk",
    Role.AGENT: "li.wei",
    Role.OPERATOR: "ops",
}
ALLOWED = {
    Role.PORTAL: {OPEN, READ, CUSTOMER, REPORTS},
    Role.PHONE: {OPEN, READ, CUSTOMER, REPORTS},
    Role.AGENT: {READ, AGENT},
    Role.OPERATOR: {OPEN, READ, CUSTOMER, AGENT, REPORTS, OPERATE},
}


@asynccontextmanager
async def api_client(
    client: Any, settings: Settings, cases: Cases | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = api_app(settings, cases=cases or Cases(client, settings.task_queue), keyring=keyring())
    server, task, url = await serve(app)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    async with running_worker(dev_env.client, settings), api_client(dev_env.client, settings) as http:
        yield http, settings


def test_every_endpoint_has_a_role(settings: Settings) -> None:
    app = api_app(settings, keyring=keyring())
    spec = app.openapi()
    served = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert served == set(ENDPOINTS), "an endpoint without a line in ENDPOINTS (or a line without one)"
    for (method, path), (permission, _) in ENDPOINTS.items():
        described = spec["paths"][path][method.lower()]
        assert "403" in described["responses"] and "401" in described["responses"], (method, path)
        if path.count("/") == 3:
            assert permission.value in described.get("description", ""), "the docs name the permission"


async def _call(
    http: httpx.AsyncClient, key: str, method: str, path: str, case: str, payload: dict[str, Any] | None
) -> httpx.Response:
    url = path.replace("{case_id}", case).replace("{attachment_id}", NO_ATTACHMENT)
    if method == "GET":
        return await http.get(url, params=payload, headers=as_key(key))
    return await http.post(url, json=payload, headers=as_key(key))


async def test_every_role_against_every_case_endpoint(
    stack: tuple[httpx.AsyncClient, Settings], request_id: str
) -> None:
    http, _ = stack
    for role, key in ROLE_KEY.items():
        opened = await http.post("/cases", json=body(f"{request_id}-{role.value}"), headers=as_key("ops"))
        assert opened.status_code == 201, opened.text
        case = opened.json()["case"]["case_id"]
        for (method, path), (permission, payload) in ENDPOINTS.items():
            if path == "/cases" and method == "POST":
                continue  # openings have their own test below
            response = await _call(http, key, method, path, case, payload)
            if permission in ALLOWED[role] and "{attachment_id}" in path:
                assert response.status_code == 404, (role, method, path, response.text)
                assert "has no attachment" in response.json()["message"], (role, path)
            elif permission in ALLOWED[role]:
                assert response.status_code not in (401, 403, 404), (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["error"] == "forbidden"


async def test_another_tenants_case_does_not_exist_for_a_portal_key(
    stack: tuple[httpx.AsyncClient, Settings], request_id: str
) -> None:
    http, _ = stack
    ours = await http.post("/cases", json=body(request_id), headers=as_key("contoso-portal"))
    assert ours.status_code == 201, ours.text
    case = ours.json()["case"]["case_id"]
    for (method, path), (permission, payload) in ENDPOINTS.items():
        if "{case_id}" not in path or permission not in ALLOWED[Role.PORTAL]:
            continue
        response = await _call(http, "fabrikam-portal", method, path, case, payload)
        assert response.status_code == 404, (method, path, response.text)
        assert case not in response.text or "no case" in response.json()["message"]
    # A missing case and another tenant's case answer alike: existence is not revealed.
    missing = await http.get(f"/cases/{case_of('never-' + request_id)}", headers=as_key("fabrikam-portal"))
    theirs = await http.get(f"/cases/{case}", headers=as_key("fabrikam-portal"))
    assert missing.status_code == theirs.status_code == 404
    assert missing.json()["error"] == theirs.json()["error"] == "not_found"
    # The case is untouched by all that: still waiting for its first response, nothing recorded.
    shown = await http.get(f"/cases/{case}", headers=as_key("contoso-portal"))
    assert shown.json()["status"] == "awaiting_first_response"
    assert not [e for e in shown.json()["timeline"] if e["actor"] == "customer"]


async def test_lists_show_only_the_keys_tenants(
    stack: tuple[httpx.AsyncClient, Settings], request_id: str
) -> None:
    http, _ = stack
    contoso = await http.post("/cases", json=body(request_id, severity="C"), headers=as_key("contoso-portal"))
    fabrikam = await http.post(
        "/cases", json=body(request_id, "fabrikam", severity="C"), headers=as_key("fabrikam-portal")
    )
    assert (contoso.status_code, fabrikam.status_code) == (201, 201), (contoso.text, fabrikam.text)
    ids = {contoso.json()["case"]["case_id"], fabrikam.json()["case"]["case_id"]}

    async def listed(key: str, **params: str) -> set[str]:
        found: set[str] = set()
        for _ in range(50):  # visibility is eventually consistent
            found = {
                c["case_id"] for c in (await http.get("/cases", params=params, headers=as_key(key))).json()
            }
            if found & ids:
                break
            await asyncio.sleep(0.1)
        return found & ids

    assert await listed("contoso-portal") == {contoso.json()["case"]["case_id"]}
    assert await listed("fabrikam-portal") == {fabrikam.json()["case"]["case_id"]}
    assert await listed("li.wei") == ids
    assert await listed("ops", tenant="fabrikam") == {fabrikam.json()["case"]["case_id"]}
    empty = await http.get("/cases", params={"tenant": "fabrikam"}, headers=as_key("contoso-portal"))
    assert empty.status_code == 200 and empty.json() == []


async def test_request_ids_are_per_tenant(stack: tuple[httpx.AsyncClient, Settings], request_id: str) -> None:
    http, _ = stack
    contoso = await http.post("/cases", json=body(request_id), headers=as_key("contoso-portal"))
    fabrikam = await http.post(
        "/cases", json=body(request_id, "fabrikam", severity="B"), headers=as_key("fabrikam-portal")
    )
    assert (contoso.status_code, fabrikam.status_code) == (201, 201), fabrikam.text
    assert contoso.json()["case"]["case_id"] != fabrikam.json()["case"]["case_id"]
    assert fabrikam.json()["case"]["tenant_id"] == "fabrikam", "never another tenant's case"
    again = await http.post("/cases", json=body(request_id), headers=as_key("contoso-portal"))
    assert again.status_code == 200 and again.json()["case"]["case_id"] == contoso.json()["case"]["case_id"]


async def test_who_may_open_what(stack: tuple[httpx.AsyncClient, Settings], request_id: str) -> None:
    http, _ = stack
    other = await http.post("/cases", json=body(request_id, "fabrikam"), headers=as_key("contoso-portal"))
    assert other.status_code == 403 and "fabrikam" in other.json()["message"]
    phone_fields = {"channel": "phone", "caller_number": "+8613900000001"}
    portal_phone = await http.post(
        "/cases", json=body(request_id, **phone_fields), headers=as_key("contoso-portal")
    )
    assert portal_phone.status_code == 403 and "caller_number" in portal_phone.json()["message"]
    agent = await http.post("/cases", json=body(request_id), headers=as_key("li.wei"))
    assert agent.status_code == 403
    stranger = await http.post(
        "/cases",
        json=body(request_id, contact_email="attacker@evil.example"),
        headers=as_key("contoso-portal"),
    )
    assert stranger.status_code == 422
    assert stranger.json()["fields"][0]["field"] == "body.contact_email"
    for refused in (other, portal_phone, agent, stranger):
        assert "Traceback" not in refused.text
    shown = await http.get(f"/cases/{case_of(request_id)}", headers=as_key("ops"))
    assert shown.status_code == 404, "nothing was started by a refused opening"
    registered = await http.post(
        "/cases",
        json=body(request_id, contact_email="it-desk@contoso.example"),
        headers=as_key("contoso-portal"),
    )
    assert registered.status_code == 201, "a registered address of the tenant is fine"
    phone = await http.post(
        "/cases", json=body(request_id + "-p", **phone_fields), headers=as_key("phone-desk")
    )
    assert phone.status_code == 201 and phone.json()["case"]["status"] == "awaiting_verification"


async def test_a_body_cannot_name_another_engineer(
    stack: tuple[httpx.AsyncClient, Settings], request_id: str
) -> None:
    http, _ = stack
    case = (await http.post("/cases", json=body(request_id), headers=as_key("ops"))).json()["case"]["case_id"]
    named = await http.post(
        f"/cases/{case}/respond",
        json={"engineer": "attacker@evil.example, li.wei", "message": "click here"},
        headers=as_key("li.wei"),
    )
    assert named.status_code == 422 and named.json()["fields"][0]["field"] == "body.engineer"
    answered = await http.post(f"/cases/{case}/respond", json={"message": "On it"}, headers=as_key("li.wei"))
    assert answered.status_code == 200 and "first_response" in answered.json()["clocks_moved"]
    shown = (await http.get(f"/cases/{case}", headers=as_key("li.wei"))).json()  # the answer: a receipt
    assert shown["first_response"]["answered_by"] == "li.wei"
    assert shown["assigned_engineer"] == "li.wei"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Mail down\r\nBcc: victim@example.com"),
        ("title", "ok\x00"),
        ("requester", "a\nb@contoso.example"),
    ],
)
async def test_control_characters_in_one_line_fields_are_field_errors(
    stack: tuple[httpx.AsyncClient, Settings], request_id: str, field: str, value: str
) -> None:
    http, _ = stack
    response = await http.post("/cases", json=body(request_id) | {field: value}, headers=as_key("ops"))
    assert response.status_code == 422
    assert {
        "field": f"body.{field}",
        "message": "must be one line without control characters",
    } in response.json()["fields"]


async def test_bodies_are_bounded_and_the_token_is_checked_first(
    stack: tuple[httpx.AsyncClient, Settings], request_id: str
) -> None:
    http, _ = stack
    big = b'{"request_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    anonymous = await http.post("/cases", content=big, headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401, "no token: refused before the body is looked at"
    declared = await http.post(
        "/cases", content=big, headers=as_key("ops") | {"Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 65536  # 2.5 MiB, no Content-Length: counted as it arrives

    streamed = await http.post(
        "/cases", content=chunks(), headers=as_key("ops") | {"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"
    message = await http.post(
        f"/cases/{case_of(request_id)}/updates", json={"message": "x" * 20_001}, headers=as_key("li.wei")
    )
    assert message.status_code == 422 and message.json()["fields"][0]["field"] == "body.message"


async def test_framework_errors_have_the_one_error_shape(stack: tuple[httpx.AsyncClient, Settings]) -> None:
    http, _ = stack
    unknown = await http.get("/nothing-here", headers=as_key("ops"))
    wrong_method = await http.delete("/cases", headers=as_key("ops"))
    bad_json = await http.post(
        "/cases", content=b"{not json", headers=as_key("ops") | {"Content-Type": "application/json"}
    )
    for response, code, error in (
        (unknown, 404, "not_found"),
        (wrong_method, 405, "method_not_allowed"),
        (bad_json, 422, "invalid_input"),
    ):
        assert response.status_code == code, response.text
        assert set(response.json()) == {"error", "message", "fields"} and response.json()["error"] == error
        assert "detail" not in response.json()


async def test_rate_limits_per_key_and_tenant_and_the_open_case_cap(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    capped = settings.replace(open_cases_per_tenant=1)
    cases = Cases(dev_env.client, capped.task_queue, max_open_cases=1)
    async with running_worker(dev_env.client, capped), api_client(dev_env.client, capped, cases) as http:
        first = await http.post("/cases", json=body(f"{request_id}-c1", "fabrikam"), headers=as_key("ops"))
        again = await http.post("/cases", json=body(f"{request_id}-c1", "fabrikam"), headers=as_key("ops"))
        for _ in range(50):  # visibility catches up with the first case
            listed = await http.get("/cases", params={"tenant": "fabrikam"}, headers=as_key("ops"))
            if first.json()["case"]["case_id"] in {c["case_id"] for c in listed.json()}:
                break
            await asyncio.sleep(0.1)
        second = await http.post("/cases", json=body(f"{request_id}-c2", "fabrikam"), headers=as_key("ops"))
        assert (first.status_code, again.status_code) == (201, 200), "the same request is no new case"
        assert second.status_code == 429 and second.json()["error"] == "too_many_open_cases", second.text
    limited = settings.replace(rate_per_key=5, openings_per_tenant=3)
    async with running_worker(dev_env.client, limited), api_client(dev_env.client, limited) as http:
        answers = [(await http.get("/cases", headers=as_key("li.wei"))).status_code for _ in range(7)]
        assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]
        refused = await http.get("/cases", headers=as_key("li.wei"))
        assert int(refused.headers["Retry-After"]) >= 1 and refused.json()["error"] == "rate_limited"
        assert (await http.get("/cases", headers=as_key("ops"))).status_code == 200, (
            "another key is not limited"
        )
        openings = [
            (
                await http.post(
                    "/cases", json=body(f"{request_id}-{i}", severity="C"), headers=as_key("contoso-portal")
                )
            )
            for i in range(4)
        ]
        assert [o.status_code for o in openings] == [201, 201, 201, 429], [o.text for o in openings]
        assert "Retry-After" in openings[3].headers and "contoso" in openings[3].json()["message"]
        other_tenant = await http.post(
            "/cases", json=body(request_id, "fabrikam", severity="C"), headers=as_key("fabrikam-portal")
        )
        assert other_tenant.status_code == 201, "another tenant has its own limit"


def test_keys_in_the_test_table_cover_every_role() -> None:
    assert {role for role, _, _ in KEYS.values()} == {r.value for r in Role}

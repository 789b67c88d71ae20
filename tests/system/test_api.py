"""The HTTP intake API over real HTTP (uvicorn on loopback) with a real Temporal dev server and worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from adapters.api_keys import Keyring, parse_key_file
from adapters.mail_sink import free_port
from adapters.settings import Settings
from application.cases import Cases
from bootstrap.api import api_app
from tests.conftest import running_worker
from tests.deliveries import delivered, verification_code
from tests.requests import case_request

TOKEN = "test-token-0123456789"  # an operator key (CASEWORK_API_TOKENS)
KEYS = {  # name: (role, tenants, token)
    "contoso-portal": ("portal", ["contoso"], "portal-token-contoso-0001"),
    "fabrikam-portal": ("portal", ["fabrikam"], "portal-token-fabrikam-001"),
    "phone-desk": ("phone", ["*"], "phone-token-000000000001"),
    "li.wei": ("agent", [], "agent-token-li-wei-00001"),
    "ops": ("operator", [], "operator-token-0000000001"),
}


def keyring() -> Keyring:
    """A key file as an operator writes it: each role, tokens in clear (local development)."""
    lines = []
    for name, (role, tenants, token) in KEYS.items():
        lines += ["[[keys]]", f'name = "{name}"', f'token = "{token}"', f'role = "{role}"']
        if tenants:
            lines.append("tenants = [" + ", ".join(f'"{t}"' for t in tenants) + "]")
    return parse_key_file("\n".join(lines), "test keys").with_operator_tokens([TOKEN, "another-token-000001"])


def as_key(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][2]}"}


def case_of(request_id: str, tenant: str = "contoso") -> str:
    return f"case-{tenant}.{request_id}"


@dataclass
class Api:
    client: httpx.AsyncClient
    settings: Settings


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)  # uvicorn has no start event to wait on
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Api]:
    async with running_worker(dev_env.client, settings):
        app = api_app(settings, cases=Cases(dev_env.client, settings.task_queue), keyring=keyring())
        server, task, url = await serve(app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            yield Api(client, settings)
        server.should_exit = True
        await task


def body(request_id: str, tenant: str = "contoso", **overrides: Any) -> dict[str, Any]:
    return case_request(request_id, tenant, **overrides).model_dump(mode="json", exclude_none=True)


async def test_post_is_idempotent_201_then_200_and_409_for_another_body(api: Api, request_id: str) -> None:
    first = await api.client.post("/cases", json=body(request_id))
    again = await api.client.post("/cases", json=body(request_id))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["created"] is True and again.json()["created"] is False
    assert again.json()["case"]["case_id"] == first.json()["case"]["case_id"] == case_of(request_id)
    other = await api.client.post("/cases", json=body(request_id, title="Resent with another title"))
    assert other.status_code == 409 and other.json()["error"] == "request_id_reused", other.text
    assert "another request" in other.json()["message"]
    shown = await api.client.get(f"/cases/{case_of(request_id)}")
    assert shown.status_code == 200 and shown.json()["status"] == "awaiting_first_response"
    assert shown.json()["title"] == first.json()["case"]["title"]


async def test_missing_or_wrong_token_is_401(api: Api, request_id: str) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = await api.client.post("/cases", json=body(request_id), headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"] == "unauthorised"
    assert await delivered(api.settings, case_of(request_id), settle=0.2) == []
    ok = await api.client.get("/cases", headers={"Authorization": "Bearer another-token-000001"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("{not json", "body"),
        ({"severity": "Z"}, "body.severity"),
        ({"category": "hardware"}, "body.category"),
        ({"title": 42}, "body.title"),
        ({"contact_email": "nobody"}, "body.contact_email"),
        ({"channel": "phone"}, "body"),
        ({"unexpected": True}, "body.unexpected"),
    ],
)
async def test_bad_input_is_422_with_the_field(api: Api, request_id: str, payload: Any, field: str) -> None:
    if isinstance(payload, str):
        response = await api.client.post(
            "/cases", content=payload, headers={"Content-Type": "application/json"}
        )
    else:
        response = await api.client.post("/cases", json=body(request_id) | payload)
    assert response.status_code == 422
    problem = response.json()
    assert problem["error"] == "invalid_input"
    assert any(f["field"].startswith(field) for f in problem["fields"]), problem
    assert "Traceback" not in response.text
    missing = await api.client.get(f"/cases/{case_of(request_id)}")
    assert missing.status_code == 404, "nothing was started"


async def test_unknown_case_404_and_rejected_action_409(api: Api, request_id: str) -> None:
    agent = as_key("li.wei")
    assert (await api.client.get("/cases/case-never-opened")).status_code == 404
    assert (await api.client.get("/cases/not-a-case-id")).status_code == 422
    response = await api.client.post("/cases/case-never-opened/respond", json={"message": "b"}, headers=agent)
    assert response.status_code == 404
    await api.client.post("/cases", json=body(request_id))
    respond = {"message": "On it"}
    answered = await api.client.post(f"/cases/{case_of(request_id)}/respond", json=respond, headers=agent)
    assert answered.status_code == 200 and answered.json()["status"] == "in_progress", answered.text
    shown = (await api.client.get(f"/cases/{case_of(request_id)}", headers=agent)).json()  # not in a receipt
    assert shown["first_response"]["answered_by"] == "li.wei"
    again = await api.client.post(f"/cases/{case_of(request_id)}/respond", json=respond, headers=agent)
    assert again.status_code == 409 and "already given by li.wei" in again.json()["message"]
    not_phone = await api.client.post(
        f"/cases/{case_of(request_id)}/verification",
        json={"code": "123456"},
        headers=as_key("contoso-portal"),
    )
    assert not_phone.status_code == 409 and "no verification is pending" in not_phone.json()["message"]


async def test_verification_over_http(api: Api, request_id: str) -> None:
    phone = as_key("phone-desk")
    opened = await api.client.post(
        "/cases", json=body(request_id, channel="phone", caller_number="+8613900000001"), headers=phone
    )
    assert opened.status_code == 201 and opened.json()["case"]["status"] == "awaiting_verification"
    case = case_of(request_id)
    code = await verification_code(api.settings, case)
    wrong = await api.client.post(
        f"/cases/{case}/verification", json={"code": f"{(int(code) + 1) % 10**6:06d}"}, headers=phone
    )
    assert wrong.status_code == 403 and wrong.json()["remaining_attempts"] == 4
    malformed = await api.client.post(f"/cases/{case}/verification", json={"code": "12ab"}, headers=phone)
    assert malformed.status_code == 422
    right = await api.client.post(f"/cases/{case}/verification", json={"code": code}, headers=phone)
    assert right.status_code == 200 and right.json()["verified"] is True
    assert code not in (await api.client.get(f"/cases/{case}")).text


async def test_list_filters_and_customer_events(api: Api, request_id: str) -> None:
    await api.client.post("/cases", json=body(request_id, severity="C", category="billing"))
    accepted = await api.client.post(
        f"/cases/{case_of(request_id)}/cooperation",
        json={"request_id": "contact_data", "details": "ok"},
        headers=as_key("contoso-portal"),
    )
    assert accepted.status_code == 200, accepted.text  # the case took it, and answers with a receipt
    assert accepted.json()["facts"] is None, "the queue's facts name staff: never a customer's"
    portal = as_key("contoso-portal")
    shown = (await api.client.get(f"/cases/{case_of(request_id)}", headers=portal)).json()
    [answered] = [r for r in shown["customer_requests"] if r["request_id"] == "contact_data"]
    assert answered["state"] == "answered"
    found: list[dict[str, Any]] = []
    for _ in range(50):
        found = (await api.client.get("/cases", params={"category": "billing", "tenant": "contoso"})).json()
        if found:
            break
        await asyncio.sleep(0.1)
    assert [c["case_id"] for c in found] == [case_of(request_id)]
    assert (await api.client.get("/cases", params={"status": "bogus"})).status_code == 422


async def test_openapi_is_served(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert {"/cases", "/cases/{case_id}", "/cases/{case_id}/verification", "/cases/{case_id}/respond"} <= set(
        spec["paths"]
    )
    assert (await api.client.get("/docs", headers={"Authorization": ""})).status_code == 200


async def test_temporal_unreachable_is_503(settings: Settings, request_id: str) -> None:
    unreachable = settings.replace(dev_server_port=1, api_tokens=(TOKEN,))
    server, task, url = await serve(api_app(unreachable))
    try:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            response = await client.post("/cases", json=body(request_id))
            shown = await client.get("/cases/case-contoso.x")
    finally:
        server.should_exit = True
        await task
    assert response.status_code == 503 and "connection refused" in response.json()["message"]
    assert shown.status_code == 503


async def test_no_worker_running_is_a_503_that_says_the_case_is_kept(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    settings = settings.replace(api_tokens=(TOKEN,))
    cases = Cases(dev_env.client, settings.task_queue, open_wait=timedelta(seconds=1))
    server, task, url = await serve(api_app(settings, cases=cases))
    try:
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            waiting = await client.post("/cases", json=body(request_id))
            async with running_worker(dev_env.client, settings):
                again = await client.post("/cases", json=body(request_id))
    finally:
        server.should_exit = True
        await task
    assert waiting.status_code == 503, waiting.text
    assert "is recorded" in waiting.json()["message"] and "same request_id" in waiting.json()["message"]
    assert "no worker is polling" in waiting.json()["message"], "no worker, and the answer says so"
    assert int(waiting.headers["Retry-After"]) >= 1, "when to ask again"
    assert again.status_code == 200, "the same request finds the case the first one recorded"
    assert again.json()["case"]["status"] == "awaiting_first_response"


async def test_a_broken_policy_file_keeps_the_case_waiting_until_it_is_fixed(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    good = settings.policy_path.read_text(encoding="utf-8")
    policy.write_text(good.replace("[severities.A]", "[severities.A"), encoding="utf-8")
    settings = settings.replace(api_tokens=(TOKEN,), policy_path=policy)
    cases = Cases(dev_env.client, settings.task_queue, open_wait=timedelta(seconds=2))
    server, task, url = await serve(api_app(settings, cases=cases))
    try:
        async with (
            running_worker(dev_env.client, settings),
            httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
        ):
            waiting = await client.post("/cases", json=body(request_id))
            policy.write_text(good, encoding="utf-8")  # the operator fixes the file
            for _ in range(30):
                again = await client.post("/cases", json=body(request_id))
                if again.status_code == 200:
                    break
    finally:
        server.should_exit = True
        await task
    assert waiting.status_code == 503 and waiting.json()["error"] == "policy_invalid", waiting.text
    assert "policy.toml: not valid TOML" in waiting.json()["message"], "the file's own error"
    assert again.status_code == 200 and again.json()["case"]["status"] == "awaiting_first_response"

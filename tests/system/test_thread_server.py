"""The thread (issue 23) over real HTTP (uvicorn on loopback) with a real worker on the
time-skipping server: every message in order, with authors as each reader may see them; the
portal's comment lands once and answers what the engineer asked; another tenant is refused;
internal notes for staff only; `starter.py thread` and the console's case page show it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.testing import WorkflowEnvironment

import application.case_thread
from adapters.codec import new_key
from adapters.database import open_database
from adapters.schema import case_messages
from adapters.settings import Settings
from application.case_thread import SEALED
from application.cases import Cases
from bootstrap.api import api_app
from tests.conftest import running_worker
from tests.system.test_api import as_key, body, case_of, keyring, serve
from tests.unit.test_console import csrf_of

DESCRIPTION = "Calls drop after a minute.\n通话一分钟后断开。"


@asynccontextmanager
async def serving(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_worker(env.client, settings):
        app = api_app(settings, cases=Cases(env.client, settings.task_queue), keyring=keyring())
        server, task, url = await serve(app)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield http
        finally:
            server.should_exit = True
            await task


async def thread_of(http: httpx.AsyncClient, case_id: str, key: str, **params: Any) -> list[dict[str, Any]]:
    answer = await http.get(f"/cases/{case_id}/messages", headers=as_key(key), params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


async def test_the_thread_in_order_as_each_reader_may_see_it(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    case_id = case_of(request_id)
    async with serving(time_env, settings) as http:
        opened = await http.post(
            "/cases",
            json=body(request_id, severity="B", description=DESCRIPTION),
            headers=as_key("contoso-portal"),
        )
        assert opened.status_code == 201, opened.text
        agent = as_key("li.wei")
        steps = [
            ("respond", {"message": "Looking at it now"}),
            ("notes", {"note": "Suspect the SBC firmware"}),
            ("customer-requests", {"what": "Please send a call trace"}),
        ]
        for path, sent in steps:
            answer = await http.post(f"/cases/{case_id}/{path}", json=sent, headers=agent)
            assert answer.status_code == 200, answer.text

        upload = await http.post(
            f"/cases/{case_id}/attachments",
            params={"filename": "trace.txt"},
            content=b"SIP/2.0 408",
            headers=as_key("contoso-portal") | {"Content-Type": "text/plain"},
        )
        assert upload.status_code == 201, upload.text
        attachment = upload.json()["attachment_id"]
        comment = {"request_id": "c-1", "body": "Trace attached.", "attachments": [attachment]}
        first = await http.post(f"/cases/{case_id}/messages", json=comment, headers=as_key("contoso-portal"))
        again = await http.post(f"/cases/{case_id}/messages", json=comment, headers=as_key("contoso-portal"))
        assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
        assert again.json()["created"] is False
        asked = [r for r in first.json()["case"]["customer_requests"] if r["request_id"] == "request-1"]
        assert asked[0]["state"] == "answered", "the comment answers what the engineer asked, as a reply"
        update = await http.post(
            f"/cases/{case_id}/updates", json={"message": "Fix rolling out"}, headers=agent
        )
        assert update.status_code == 200, update.text

        staff = await thread_of(http, case_id, "li.wei")
        assert [(m["seq"], m["kind"], m["author"], m["via"]) for m in staff] == [
            (0, "description", "admin@contoso.example", "portal"),
            (1, "response", "li.wei", "api"),
            (2, "note", "li.wei", "api"),
            (3, "request", "li.wei", "api"),
            (4, "comment", "contoso-portal", "portal"),
            (5, "update", "li.wei", "api"),
        ]
        assert staff[0]["body"] == DESCRIPTION and staff[2]["internal"] is True
        assert staff[4]["attachments"][0]["filename"] == "trace.txt", "the comment's file, by reference"
        assert [m["at"] for m in staff] == sorted(m["at"] for m in staff)

        portal = await thread_of(http, case_id, "contoso-portal")
        assert [m["kind"] for m in portal] == ["description", "response", "request", "comment", "update"]
        assert {m["author"] for m in portal if m["role"] == "staff"} == {"Support"}, "no staff names"
        assert "SBC" not in str(portal), "no internal note"

        page = await http.get(f"/cases/{case_id}/messages", headers=agent, params={"limit": 2})
        assert [m["seq"] for m in page.json()] == [0, 1] and page.headers["Next-Cursor"] == "1"
        rest = await thread_of(http, case_id, "li.wei", cursor=page.headers["Next-Cursor"], limit=10)
        assert [m["seq"] for m in rest] == [2, 3, 4, 5]

        other = await http.get(f"/cases/{case_id}/messages", headers=as_key("fabrikam-portal"))
        assert other.status_code == 404, "another tenant's case does not exist for it"
        refused = await http.post(
            f"/cases/{case_id}/messages",
            json={"request_id": "x", "body": "hi"},
            headers=as_key("fabrikam-portal"),
        )
        assert refused.status_code == 404
        by_agent = await http.post(
            f"/cases/{case_id}/messages", json={"request_id": "y", "body": "hi"}, headers=agent
        )
        assert by_agent.status_code == 403, "engineers answer with respond and updates"
        stranger_file = await http.post(
            f"/cases/{case_id}/messages",
            json={"request_id": "c-2", "body": "see file", "attachments": ["0" * 64]},
            headers=as_key("contoso-portal"),
        )
        assert stranger_file.status_code == 422, "a comment names only files of its own case"


@pytest.mark.parametrize("language", ["zh-CN", "hu"])
async def test_the_console_shows_the_thread_and_the_portal_comments_once(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, language: str
) -> None:
    case_id = case_of(request_id)
    async with serving(time_env, settings) as http:
        opened = await http.post(
            "/cases", json=body(request_id, severity="C"), headers=as_key("contoso-portal")
        )
        assert opened.status_code == 201, opened.text
        await http.post(
            f"/cases/{case_id}/respond", json={"message": "Hello from li"}, headers=as_key("li.wei")
        )
        await http.post(
            f"/cases/{case_id}/notes", json={"note": "internal thought"}, headers=as_key("li.wei")
        )

        form = await http.get("/console/sign-in", params={"lang": language})
        signed = await http.post(
            "/console/sign-in", data={"token": "portal-token-contoso-0001", "csrf": csrf_of(form.text)}
        )
        assert signed.status_code in (200, 303), signed.text
        page = await http.get(f"/console/cases/{case_id}", params={"lang": language}, follow_redirects=True)
        assert page.status_code == 200 and 'id="thread"' in page.text and 'id="comment"' in page.text
        assert (
            "Hello from li" in page.text and "internal thought" not in page.text and "li.wei" not in page.text
        )
        box = page.text.split('id="comment"')[1]
        token = box.split('name="request_id" value="')[1].split('"')[0]
        sent = {"csrf": csrf_of(page.text), "request_id": token, "body": "Still dropping"}
        for _ in range(2):  # the form sent twice is one message
            posted = await http.post(f"/console/cases/{case_id}/messages", data=sent)
            assert posted.status_code == 303, posted.text
        staff = await thread_of(http, case_id, "li.wei")
        assert [m["kind"] for m in staff] == ["description", "response", "note", "comment"]
        assert staff[3]["body"] == "Still dropping" and staff[3]["via"] == "portal"


async def test_a_sealed_message_copied_onto_another_case_is_a_503_never_its_words(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the key ring set (the worker seals, the API and the console open), a message's sealed
    words copied onto another case's row do not open there: the thread of that case is a 503 that
    says it is sealed (the API) or unavailable (the console), not a 500 and not the other's words."""
    monkeypatch.setenv("CASEWORK_ENCRYPTION_KEY", new_key())
    monkeypatch.delenv("CASEWORK_ENCRYPTION_PREVIOUS_KEYS", raising=False)
    source, target = case_of(request_id), case_of(request_id + "b")
    async with serving(time_env, settings) as http:
        for case_id, said in ((source, "The secret of the first case"), (target, "Hello")):
            opened = await http.post(
                "/cases", json=body(case_id.split(".", 1)[1], severity="C"), headers=as_key("contoso-portal")
            )
            assert opened.status_code == 201, opened.text
            answer = await http.post(
                f"/cases/{case_id}/respond", json={"message": said}, headers=as_key("li.wei")
            )
            assert answer.status_code == 200, answer.text
        assert [m["body"] for m in await thread_of(http, target, "li.wei")][1:] == ["Hello"]

        engine = open_database(settings)
        try:
            with engine.begin() as connection:
                [sealed] = connection.execute(
                    select(case_messages.c.sealed).where(
                        case_messages.c.case_id == source, case_messages.c.seq == 1
                    )
                ).scalars()
                assert b"secret" not in bytes(sealed), "sealed at rest"
                connection.execute(
                    update(case_messages)
                    .where(case_messages.c.case_id == target, case_messages.c.seq == 1)
                    .values(sealed=sealed)
                )
        finally:
            engine.dispose()

        for key in ("li.wei", "contoso-portal"):
            refused = await http.get(f"/cases/{target}/messages", headers=as_key(key))
            assert refused.status_code == 503, refused.text
            assert refused.json()["message"] == SEALED and "secret" not in refused.text
        assert (await thread_of(http, source, "li.wei"))[1]["body"] == "The secret of the first case"

        form = await http.get("/console/sign-in")
        signed = await http.post(
            "/console/sign-in", data={"token": "portal-token-contoso-0001", "csrf": csrf_of(form.text)}
        )
        assert signed.status_code in (200, 303), signed.text
        page = await http.get(f"/console/cases/{target}", follow_redirects=True)  # to the portal's page
        assert page.status_code == 503 and "secret" not in page.text


async def test_a_case_takes_files_up_to_its_limit_then_413_and_nothing_kept(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A portal key cannot fill the disk through one case: past FILES_PER_CASE an upload is 413."""
    monkeypatch.setattr(application.case_thread, "FILES_PER_CASE", 2)
    case_id = case_of(request_id)
    portal = as_key("contoso-portal") | {"Content-Type": "text/plain"}
    async with serving(time_env, settings) as http:
        opened = await http.post("/cases", json=body(request_id), headers=as_key("contoso-portal"))
        assert opened.status_code == 201, opened.text
        codes = []
        for n in range(3):
            sent = await http.post(
                f"/cases/{case_id}/attachments",
                params={"filename": f"f{n}.txt"},
                content=b"x%d" % n,
                headers=portal,
            )
            codes.append(sent.status_code)
        assert codes == [201, 201, 413], codes
        assert "at most 2 files" in sent.json()["message"]

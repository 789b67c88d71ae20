"""Files given at opening (issue 23): uploaded first and named by id, or sent with the request as
multipart, over real HTTP with a real worker on the time-skipping server. Tenant-scoped, bounded
before parsing (413 / field-level 422, nothing opened), kept once, and shown with the request in
GET /cases/{id}, the support queue's "new case" mail and the console case page, with a link."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import text_of
from adapters.settings import Settings
from bootstrap.api import api_app
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.system.test_api import as_key, body, case_of, keyring, serve
from tests.unit.test_console import csrf_of

PDF = b"%PDF-1.4 the trace " + bytes(range(256))


@asynccontextmanager
async def serving(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_worker(env.client, settings) as cases:
        server, task, url = await serve(api_app(settings, cases=cases, keyring=keyring()))
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield http
        finally:
            server.should_exit = True
            await task


async def test_files_by_reference_and_multipart_are_shown_with_the_request_bounded_and_tenant_scoped(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    settings = settings.replace(inbound_max_attachments=2, inbound_max_attachment_bytes=4096)
    portal = as_key("contoso-portal")
    async with serving(time_env, settings) as http:
        up = await http.post(
            "/attachments",
            params={"filename": "trace.pdf"},
            content=PDF,
            headers=portal | {"Content-Type": "application/pdf"},
        )
        assert up.status_code == 201, up.text
        upload = up.json()["attachment_id"]
        stolen = await http.post(
            "/cases",
            json=body(f"{request_id}-x", tenant="fabrikam") | {"attachments": [upload]},
            headers=as_key("fabrikam-portal"),
        )
        assert stolen.status_code == 422 and stolen.json()["fields"][0]["field"] == "body.attachments"

        opened = await http.post("/cases", json=body(request_id) | {"attachments": [upload]}, headers=portal)
        assert opened.status_code == 201, opened.text
        again = await http.post("/cases", json=body(request_id) | {"attachments": [upload]}, headers=portal)
        assert again.status_code == 200, "the same opening again is the same case (its upload taken)"
        case_id = case_of(request_id)
        shown = (await http.get(f"/cases/{case_id}", headers=as_key("li.wei"))).json()
        [given] = shown["request"]["attachments"]
        assert (given["filename"], given["size"], given["content_type"]) == (
            "trace.pdf",
            len(PDF),
            "application/pdf",
        )
        got = await http.get(
            f"/cases/{case_id}/attachments/{given['attachment_id']}", headers=as_key("li.wei")
        )
        assert got.status_code == 200 and got.content == PDF
        thread = (await http.get(f"/cases/{case_id}/messages", headers=portal)).json()
        assert thread[0]["kind"] == "description" and thread[0]["attachments"] == [given], "message 0 has it"
        foreign = await http.get(f"/cases/{case_id}", headers=as_key("fabrikam-portal"))
        assert foreign.status_code == 404

        # The queue's mail names the file, its size and where staff download it.
        await delivered(settings, case_id, "/new_case/0/support_queue")
        queue = next(m for m in mails(settings, case_id) if "New severity" in m["Subject"])
        text = text_of(queue).replace("\r\n", "\n")
        link = f"/console/cases/{case_id}/attachments/{given['attachment_id']}"
        assert f"trace.pdf ({len(PDF)} B): {link}" in text, text

        # The console's case page lists it, and its link downloads it.
        form = await http.get("/console/sign-in")
        await http.post(
            "/console/sign-in", data={"token": "agent-token-li-wei-00001", "csrf": csrf_of(form.text)}
        )
        page = await http.get(f"/console/cases/{case_id}")
        assert (
            'id="request-files"' in page.text and f'href="{link}"' in page.text and "trace.pdf" in page.text
        )
        downloaded = await http.get(link)
        assert downloaded.status_code == 200 and downloaded.content == PDF
        assert downloaded.headers["content-disposition"].startswith("attachment")

        # Multipart: the request's JSON and its files in one body.
        second = f"{request_id}-m"
        parts = [
            ("files", ("a.log", b"line one\n", "text/plain")),
            ("files", ("b.png", b"\x89PNG....", "image/png")),
        ]
        multi = await http.post(
            "/cases", data={"request": json.dumps(body(second))}, files=parts, headers=portal
        )
        assert multi.status_code == 201, multi.text
        listed = (await http.get(f"/cases/{case_of(second)}", headers=portal)).json()["request"][
            "attachments"
        ]
        assert [(a["filename"], a["size"]) for a in listed] == [("a.log", 9), ("b.png", 8)]

        # Bounded: too many files is a 422 on `files`; a file too large a 413; a body over the
        # limit a 413 before it is read; none of them opens a case.
        refused = f"{request_id}-r"
        three = [*parts, ("files", ("c.txt", b"c", "text/plain"))]
        many = await http.post(
            "/cases", data={"request": json.dumps(body(refused))}, files=three, headers=portal
        )
        assert many.status_code == 422 and many.json()["fields"][0]["field"] == "body.files", many.text
        big = [("files", ("big.bin", b"x" * 5000, "application/octet-stream"))]
        large = await http.post(
            "/cases", data={"request": json.dumps(body(refused))}, files=big, headers=portal
        )
        assert large.status_code == 413 and "big.bin" in large.json()["message"], large.text
        huge = await http.post(
            "/attachments", content=b"x" * (3 * 1024 * 1024), headers=portal | {"Content-Type": "text/plain"}
        )
        assert huge.status_code == 413, huge.text

        async def endless() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(40):
                yield b"x" * 16384

        multipart = portal | {"Content-Type": "multipart/form-data; boundary=b"}
        streamed = await http.post("/cases", content=endless(), headers=multipart)
        assert streamed.status_code == 413, streamed.text
        garbage = await http.post("/cases", content=b"--b\r\nnot a part", headers=multipart)
        assert garbage.status_code == 422, garbage.text
        bad = await http.post(
            "/cases",
            data={"request": json.dumps(body(refused) | {"title": ""})},
            files=parts[:1],
            headers=portal,
        )
        assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "body.request.title", bad.text
        assert (await http.get(f"/cases/{case_of(refused)}", headers=portal)).status_code == 404


async def test_the_contact_form_takes_files(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with serving(time_env, settings) as http:
        form = await http.get("/console/sign-in")
        await http.post(
            "/console/sign-in", data={"token": "portal-token-contoso-0001", "csrf": csrf_of(form.text)}
        )
        contact = await http.get("/console/contact")
        assert 'enctype="multipart/form-data"' in contact.text and 'type="file"' in contact.text
        fields = {
            "csrf": csrf_of(contact.text),
            "request_id": request_id,
            "tenant": "contoso",
            "category": "technical",
            "severity": "B",
            "title": "Mail stopped",
            "description": "Nobody can send mail since 09:00.",
            "requester": "admin@contoso.example",
            "contact_email": "admin@contoso.example",
            "preferred_contact": "email",
        }
        posted = await http.post(
            "/console/contact", data=fields, files=[("files", ("trace.pdf", PDF, "application/pdf"))]
        )
        assert posted.status_code == 201, posted.text
        shown = (await http.get(f"/cases/{case_of(request_id)}", headers=as_key("ops"))).json()
        [given] = shown["request"]["attachments"]
        assert given["filename"] == "trace.pdf" and given["size"] == len(PDF)
        # the customer's own page (customers are sent to "my requests"): the file is on the opening
        page = await http.get(f"/console/cases/{case_of(request_id)}", follow_redirects=True)
        assert page.url.path == f"/console/requests/{case_of(request_id)}", page.url
        assert "trace.pdf" in page.text, page.text

"""Issue 23's "Done when", told once over HTTP, SMTP and the console in a real browser, on the
time-skipping server (the waits are skipped, never slept): a portal admin opens an A case with a
description and a file; the agent reads both in the console and in the support queue's mail; the
admin answers every obligation by one email reply, so no reminder and no downgrade follow, and
the agent accepts them; the engineer answers by email from their staff address; the case is
resolved, the customer replies "please reopen" and it reopens; resolved again, a reply after the
window opens a linked case."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import httpx
from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.mail_sink import text_of
from adapters.settings import Settings
from bootstrap.api import api_app
from bootstrap.inbound import start_inbound_listener
from tests.browser import chromium, recorded_page, serving
from tests.conftest import running_worker, skipping_clock
from tests.deliveries import delivered, mails
from tests.system.test_api import KEYS, as_key, body, case_of, keyring

ADMIN = "admin@contoso.example"
ENGINEER = "zhang.min@casework.example"
DESCRIPTION = "Nobody can send mail since 09:00. The MX record was changed last night."
TRACE = b"%PDF-1.4 message trace " + bytes(range(64))
OBLIGATIONS = ("impact_analysis", "reachable_contacts", "contact_data")


def answer(original: EmailMessage, text: str, sender: str) -> EmailMessage:
    """A reply to `original` as a mail client writes it: to its Reply-To, the original quoted."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = str(original["Reply-To"])
    mail["Subject"] = f"Re: {original['Subject']}"
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    mail["In-Reply-To"] = str(original["Message-ID"])
    quoted = "\n".join(f"> {line}" for line in text_of(original).splitlines())
    mail.set_content(f"{text}\n\nOn Sun, casework support wrote:\n{quoted}\n")
    return mail


async def smtp(port: int, mail: EmailMessage, sender: str) -> str:
    """Sent to casework's listener; the SMTP answer's text (a refusal fails the story)."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as client:
        _, said = await client.sendmail(sender, [str(mail["To"])], mail.as_bytes())
    return said


def newest(settings: Settings, case_id: str, to: str, fragment: str) -> EmailMessage:
    return [
        m for m in mails(settings, case_id) if str(m["To"]) == to and fragment in m["X-Casework-Notification"]
    ][-1]


async def test_the_case_carries_the_conversation_over_http_smtp_and_the_console(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    case_id = case_of(request_id)
    admin, agent = as_key("contoso-portal"), as_key("li.wei")
    async with running_worker(time_env.client, settings) as cases, skipping_clock(time_env):
        engine = open_database(settings)
        listener = await start_inbound_listener(settings, cases, engine, port=0)
        assert listener is not None
        app = api_app(settings, cases=cases, keyring=keyring(), engine=engine)
        try:
            async with (
                serving(app) as url,
                chromium() as browser,
                httpx.AsyncClient(base_url=url, timeout=30) as http,
            ):
                # The admin opens an A case with a description and a file.
                opening = body(
                    request_id, severity="A", description=DESCRIPTION, requester=ADMIN, contact_email=ADMIN
                )
                files = [("files", ("trace.pdf", TRACE, "application/pdf"))]
                opened = await http.post(
                    "/cases", data={"request": json.dumps(opening)}, files=files, headers=admin
                )
                assert opened.status_code == 201, opened.text
                number = opened.json()["case"]["case_number"]

                # The agent reads both in the queue's mail and in the console.
                await delivered(settings, case_id, "/new_case/0/support_queue", "/acknowledged/0/customer")
                queue = next(m for m in mails(settings, case_id) if "New severity A" in str(m["Subject"]))
                assert DESCRIPTION in text_of(queue) and "trace.pdf" in text_of(queue)
                page = await recorded_page(browser)
                await page.page.goto(f"{url}/console/")
                await page.wait_for("form#sign-in")
                await page.page.fill("#token", KEYS["li.wei"][2])
                await page.page.click("form#sign-in button[type=submit]")
                await page.wait_for("form#sign-out")
                await page.page.goto(f"{url}/console/cases/{number}")
                await page.wait_for("#request-files")
                assert await page.page.text_content("#request-description") == DESCRIPTION
                href = await page.page.get_attribute("#request-files a", "href")
                assert href is not None and await page.page.text_content("#request-files a") == "trace.pdf"
                fetched = await page.page.context.request.get(f"{url}{href}")  # with the agent's session
                assert fetched.status == 200 and await fetched.body() == TRACE
                await page.page.context.close()

                # One email reply answers every obligation: no reminder, no downgrade; the agent accepts.
                acknowledgement = newest(settings, case_id, ADMIN, "/acknowledged/")
                await time_env.sleep(timedelta(seconds=7))
                said = await smtp(
                    listener.port,
                    answer(
                        acknowledgement,
                        "Impact: 400 users without mail. Reachable: Wang Fang, 24x7. Contact data confirmed.",
                        ADMIN,
                    ),
                    ADMIN,
                )
                assert "added to case" in said, said
                await time_env.sleep(timedelta(hours=3))  # past the reminders and the 2 h due time
                view = (await http.get(f"/cases/{case_id}", headers=agent)).json()
                assert view["severity"] == "A" and view["cooperation_reminders_sent"] == 0
                for name in OBLIGATIONS:
                    accepted = await http.post(
                        f"/cases/{case_id}/accepted-obligations", json={"request_id": name}, headers=agent
                    )
                    assert accepted.status_code == 200, accepted.text
                # An action answers a receipt (support.case.action_receipt), not the view: read the case.
                view = (await http.get(f"/cases/{case_id}", headers=agent)).json()
                states = {
                    r["request_id"]: r["state"]
                    for r in view["customer_requests"]
                    if r["kind"] == "obligation"
                }
                assert states == dict.fromkeys(OBLIGATIONS, "accepted")

                # The engineer answers by email from their staff address.
                handed = await http.post(
                    f"/cases/{case_id}/assignment",
                    json={"assignee": "zhang.min", "reason": "Mail expert"},
                    headers=agent,
                )
                assert handed.status_code == 200, handed.text
                await delivered(settings, case_id, "/assigned/")
                assigned = newest(settings, case_id, ENGINEER, "/assigned/")
                said = await smtp(
                    listener.port,
                    answer(assigned, "The MX record points to the old host; fixing it.", ENGINEER),
                    ENGINEER,
                )
                assert "first response is on case" in said, said
                thread = (await http.get(f"/cases/{case_id}/messages", headers=agent)).json()
                [response] = [m for m in thread if m["kind"] == "response"]
                assert (response["author"], response["via"]) == ("zhang.min", "email")
                assert response["body"] == "The MX record points to the old host; fixing it."

                # Resolved; "please reopen" by email reopens it.
                resolve = {"summary": "MX record restored"}
                assert (
                    await http.post(f"/cases/{case_id}/resolve", json=resolve, headers=agent)
                ).status_code == 200
                await delivered(settings, case_id, "/resolved/0/customer")
                said = await smtp(
                    listener.port,
                    answer(newest(settings, case_id, ADMIN, "/resolved/0/"), "please reopen", ADMIN),
                    ADMIN,
                )
                assert "added to case" in said, said
                assert (await http.get(f"/cases/{case_id}", headers=admin)).json()["status"] == "in_progress"

                # Resolved again; a reply after the window opens a linked case.
                assert (
                    await http.post(f"/cases/{case_id}/resolve", json=resolve, headers=agent)
                ).status_code == 200
                await delivered(settings, case_id, "/resolved/1/customer")
                resolved = newest(settings, case_id, ADMIN, "/resolved/1/")
                await time_env.sleep(timedelta(days=7, minutes=5))
                assert (await http.get(f"/cases/{case_id}", headers=admin)).json()["status"] == "closed"
                said = await smtp(
                    listener.port, answer(resolved, "It is broken again since this morning", ADMIN), ADMIN
                )
                assert "is closed; opened case CW-" in said, said
                linked = said.rsplit("opened case ", 1)[1].split()[0]
                followed = (await http.get(f"/cases/{linked}", headers=admin)).json()
                assert followed["follows"] == number and followed["severity"] == "A"
        finally:
            await listener.stop()
            engine.dispose()

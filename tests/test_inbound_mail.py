"""Customers' replies by email, with real SMTP in both directions: casework's mail goes out to an
aiosmtpd server (the customer's and the staff's mailboxes), the customer answers with aiosmtplib to
casework's own listener (`adapters.smtp_in`) at the acknowledgement's Reply-To address, and the
case takes it. One stack for the module: the dev server, a casework worker, SQLite, the mailboxes,
the listener and the API served over HTTP.

A reply lands on the right case once (the same Message-ID twice is one message), resumes the clock
the engineer's request paused, and reaches the assignee; its attachment is stored, listed on the
case and downloadable by the tenant's key only. A stranger, an auto-reply, a bounce, a reply to a
withdrawn case, a mail for no case and mail over the limits do not land.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import Client

from adapters.database import open_database
from adapters.mail_sink import MailSink, free_port, text_of
from adapters.schema import attachments
from adapters.settings import Settings
from adapters.smtp_in import InboundListener
from bootstrap.api import api_app
from bootstrap.inbound import start_inbound_listener
from intake.cases import Cases
from scaffold.local_stack import local_settings, start_local_server
from support.access import Principal, Role
from support.actions import CustomerActionRequest, FirstResponse
from support.case_view import CaseView
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.test_api import as_key, keyring, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPS = Principal(name="ops", role=Role.OPERATOR)
ENGINEER = "li.wei"
ASSIGNEE_MAILBOX = "li.wei@casework.example"  # staff.toml
CUSTOMER = "admin@contoso.example"
MAX_ATTACHMENT = 2000
MAX_MESSAGE = 20_000


@dataclass
class Stack:
    settings: Settings
    cases: Cases
    listener: InboundListener
    http: httpx.AsyncClient


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root: Path = tmp_path_factory.mktemp("inbound")
    sink = MailSink(root / "var" / "mail").start()  # the customer's and the staff's mail server
    settings = dataclasses.replace(
        local_settings(root / "var", sink, task_queue=f"inbound-{uuid.uuid4().hex[:8]}"),
        inbound_max_attachment_bytes=MAX_ATTACHMENT,
        inbound_max_message_bytes=MAX_MESSAGE,
        inbound_max_attachments=2,
    )
    env = await start_local_server()
    try:
        async with running_worker(env.client, settings) as cases:
            engine = open_database(settings)
            listener = await start_inbound_listener(settings, cases, engine, port=0)
            assert listener is not None
            server, task, url = await serve(api_app(settings, cases=cases, keyring=keyring(), engine=engine))
            try:
                async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                    yield Stack(settings, cases, listener, http)
            finally:
                server.should_exit = True
                await task
                await listener.stop()
                engine.dispose()
    finally:
        await env.shutdown()
        sink.stop()


async def open_case(stack: Stack, tag: str) -> str:
    request = case_request(
        f"{tag}-{uuid.uuid4().hex[:8]}", "contoso", requester=CUSTOMER, contact_email=CUSTOMER
    )
    opened = await stack.cases.open(request, OPS)
    return opened.case.case_id


async def acknowledgement(stack: Stack, case_id: str) -> EmailMessage:
    """The acknowledgement as it reached the customer's mailbox."""
    await delivered(stack.settings, case_id, "/acknowledged/")
    [ack] = [m for m in mails(stack.settings, case_id) if m["To"] == CUSTOMER]
    return ack


def reply_to(original: EmailMessage, body: str, sender: str = CUSTOMER, **headers: str) -> EmailMessage:
    """A customer's answer to `original` as a mail client writes it: to its Reply-To, quoting it."""
    mail = EmailMessage()
    mail["From"] = f"Anna <{sender}>"
    mail["To"] = str(original["Reply-To"])
    mail["Subject"] = f"Re: {original['Subject']}"
    mail["Message-ID"] = make_msgid(domain="contoso.example")
    mail["In-Reply-To"] = str(original["Message-ID"])
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    quoted = "\n".join(f"> {line}" for line in text_of(original).splitlines())
    mail.set_content(f"{body}\n\nOn Fri, Nov 27, 2026 at 10:00 AM casework support wrote:\n{quoted}\n")
    return mail


async def send(
    port: int, mail: EmailMessage | bytes, sender: str = CUSTOMER, to: str | None = None
) -> tuple[int, str]:
    """Send over SMTP to casework's listener; (code, text) of the answer that decided it."""
    raw = mail if isinstance(mail, bytes) else mail.as_bytes()
    recipient = to or (str(mail["To"]) if isinstance(mail, EmailMessage) else "")
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as smtp:
            _, message = await smtp.sendmail(sender, [recipient], raw)
    except aiosmtplib.SMTPRecipientsRefused as refused:
        return refused.recipients[0].code, refused.recipients[0].message
    except aiosmtplib.SMTPResponseException as error:
        return error.code, error.message
    return 250, message


async def view(stack: Stack, case_id: str) -> CaseView:
    return await stack.cases.show(case_id)


async def test_a_reply_lands_once_resumes_the_clock_reaches_the_assignee_with_its_attachment(
    stack: Stack,
) -> None:
    case_id = await open_case(stack, "reply")
    ack = await acknowledgement(stack, case_id)
    assert ack["Reply-To"] == f"case+{case_id}@{stack.settings.reply_to_domain}"
    await stack.cases.respond(case_id, FirstResponse(engineer=ENGINEER, message="Looking at it"))
    asked = await stack.cases.request_customer_action(
        case_id, CustomerActionRequest(engineer=ENGINEER, what="Send a call trace")
    )
    assert asked.pauses and asked.pauses[-1].resumed_at is None, "the update clock waits for the customer"

    mail = reply_to(ack, "Here is the trace; it fails at 09:12.")
    trace = b"%PDF-1.4 trace\x00\x01" * 50
    mail.add_attachment(trace, maintype="application", subtype="pdf", filename="trace.pdf")
    code, text = await send(stack.listener.port, mail)
    assert (code, text) == (250, f"2.0.0 added to case {case_id}")
    again = await send(stack.listener.port, mail)  # the sending server delivers it again: one message
    assert again == (250, f"2.0.0 already on case {case_id}")

    case = await view(stack, case_id)
    assert case.replies_received == 1
    assert [e.kind for e in case.timeline].count("customer_replied") == 1
    assert case.pauses[-1].resumed_at is not None, "the reply resumed the paused clock"
    [ref] = case.attachments
    assert (ref.filename, ref.content_type, ref.size) == ("trace.pdf", "application/pdf", len(trace))

    await delivered(stack.settings, case_id, "/customer_replied/")
    [told] = [
        m
        for m in mails(stack.settings, case_id)
        if m["To"] == ASSIGNEE_MAILBOX and "客户已回复" in str(m["Subject"])
    ]
    body = text_of(told)
    assert "Here is the trace; it fails at 09:12." in body and "trace.pdf" in body
    assert "wrote:" not in body and "We have received" not in body, "the quoted history is stripped"
    assert "a***@contoso.example" in body and CUSTOMER not in body, "the sender is masked"

    url = f"/cases/{case_id}/attachments/{ref.attachment_id}"
    download = await stack.http.get(url, headers=as_key("contoso-portal"))
    assert download.status_code == 200 and download.content == trace
    assert download.headers["content-disposition"].startswith('attachment; filename="trace.pdf"')
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "application/pdf"
    other = await stack.http.get(url, headers=as_key("fabrikam-portal"))
    assert other.status_code == 404 and other.json()["error"] == "not_found", "another tenant's case"
    missing = await stack.http.get(
        f"/cases/{case_id}/attachments/{'0' * 64}", headers=as_key("contoso-portal")
    )
    assert missing.status_code == 404


async def test_strangers_robots_bounces_and_withdrawn_cases_are_not_attached(stack: Stack) -> None:
    case_id = await open_case(stack, "refused")
    ack = await acknowledgement(stack, case_id)

    stranger = reply_to(ack, "Let me in", sender="mallory@evil.example")
    code, text = await send(stack.listener.port, stranger, sender="mallory@evil.example")
    assert code == 550 and "not a contact of this case's customer" in text
    spoofed_envelope = reply_to(ack, "From is ours, the envelope is not")
    assert (await send(stack.listener.port, spoofed_envelope, sender="mallory@evil.example"))[0] == 550

    auto = reply_to(ack, "I am out of the office until Monday.", Auto_Submitted="auto-replied")
    code, text = await send(stack.listener.port, auto)
    assert code == 250 and "automatic message" in text, "accepted and dropped, never answered"
    bounce = reply_to(ack, "Delivery failed")
    code, text = await send(stack.listener.port, bounce, sender="")  # MAIL FROM:<>
    assert code == 250 and "automatic message" in text

    code, text = await send(
        stack.listener.port, reply_to(ack, "hello"), to=f"someone@{stack.settings.reply_to_domain}"
    )
    assert code == 550 and "not a case address" in text, "refused at RCPT"
    never = f"case+case-contoso.never@{stack.settings.reply_to_domain}"
    code, text = await send(stack.listener.port, reply_to(ack, "hello"), to=never)
    assert code == 550 and "no case case-contoso.never" in text

    big = reply_to(ack, "A large trace")
    big.add_attachment(
        b"x" * (MAX_ATTACHMENT + 1), maintype="application", subtype="octet-stream", filename="big.bin"
    )
    code, text = await send(stack.listener.port, big)
    assert code == 552 and "big.bin" in text
    huge = reply_to(ack, "y" * (MAX_MESSAGE + 10))
    code, _ = await send(stack.listener.port, huge)
    assert code == 552, "over the message size the listener announces"

    case = await view(stack, case_id)
    assert case.replies_received == 0 and case.attachments == []
    assert "customer_replied" not in [e.kind for e in case.timeline]

    withdrawn = await stack.http.post(
        f"/cases/{case_id}/withdrawal",
        json={"requester": CUSTOMER, "reason": "it solved itself"},
        headers=as_key("contoso-portal"),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    late = reply_to(ack, "One more thing")
    late.add_attachment(b"late", maintype="text", subtype="plain", filename="late.txt")
    code, text = await send(stack.listener.port, late)
    # the case's reason: withdrawn, or (once its workflow has ended) that it takes no more actions
    assert code == 550 and text.startswith("5.7.1"), text
    assert "withdrawn" in text or "has ended" in text, text
    assert (await view(stack, case_id)).replies_received == 0
    engine = open_database(stack.settings)
    try:
        with engine.connect() as connection:
            kept = connection.execute(select(attachments.c.filename).where(attachments.c.case_id == case_id))
            assert kept.all() == [], "a refused reply's attachments are not kept"
    finally:
        engine.dispose()


async def test_a_reply_while_temporal_is_unreachable_is_deferred_not_lost(tmp_path: Path) -> None:
    """451: the sending server keeps the mail and tries again later."""
    sink = MailSink(tmp_path / "var" / "mail").start()
    settings = local_settings(tmp_path / "var", sink)
    client = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)  # nobody listens there
    engine = open_database(settings)
    listener = await start_inbound_listener(settings, Cases(client, settings.task_queue), engine, port=0)
    assert listener is not None
    try:
        mail = EmailMessage()
        mail["From"] = CUSTOMER
        mail["Message-ID"] = make_msgid(domain="contoso.example")
        mail.set_content("Are you there?")
        code, text = await send(listener.port, mail, to=f"case+case-contoso.r-1@{settings.reply_to_domain}")
        assert code == 451 and text.startswith("4.3.0"), text
    finally:
        await listener.stop()
        engine.dispose()
        sink.stop()

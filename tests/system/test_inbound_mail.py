"""Customers' replies by email, with real SMTP in both directions: casework's mail goes out to an
aiosmtpd server (the customer's and the staff's mailboxes), the customer answers with aiosmtplib to
casework's own listener (`adapters.smtp_in`) at the acknowledgement's Reply-To address, and the
case takes it. One stack for the module: the dev server, a casework worker, SQLite, the mailboxes,
the listener and the API served over HTTP.

A reply lands on the right case once (the same Message-ID twice is one message), resumes the clock
the engineer's request paused, and reaches the assignee; its attachment is stored, listed on the
case and downloadable by the tenant's key only. The case with the longest id there is (a 63-character
tenant, a 64-character request id) gets a Reply-To that fits RFC 5321 and its replies land; so do
replies to the form of address sent before the tokens. A stranger, an auto-reply, a bounce, a reply
to a withdrawn case, a mail for no case or a made-up token, and mail over the limits do not land.
Hostile mail (issue 29): a reply of quote markers lands in bounded time, mail over the part, depth
or header limits and mail that cannot be read get a permanent 554 with the reason, a person's
`Auto-Submitted: no (comment)` lands, and a doubtful mail is held until `starter.py mail release`
adds it to its case, once.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine, select
from temporalio.client import Client

from adapters.attachment_store import AttachmentStore
from adapters.database import open_database
from adapters.directory_store import import_directory
from adapters.listeners import CannotListen
from adapters.mail_reader_process import InlineReader
from adapters.mail_sink import MailSink, free_port, text_of
from adapters.reply_addresses import ReplyAddresses
from adapters.schema import attachments
from adapters.secrets import verification_key
from adapters.settings import Settings
from adapters.smtp_in import InboundListener
from application.cases import ActionRejected, Cases, OpenedCase
from bootstrap.api import api_app
from bootstrap.inbound import inbound_mail, start_inbound_listener
from interfaces.mail_in.routing import CaseAddresses, InboundMail, mail_limits
from scaffold.local_stack import local_settings, start_local_server
from support.case.action_receipt import ActionReceipt, clock_marks, receipt
from support.case.actions import CustomerActionRequest, CustomerReply, FirstResponse, Resolution
from support.case.machine import refusal
from support.case.record import CaseRecord, CaseStart
from support.case.view import CaseView
from support.identity.access import Principal, Role
from support.identity.directory import DirectoryFile, TenantRecord
from support.messaging.reply_addresses import (
    bounce_address,
    mac_reply_address,
    reply_address,
    reply_key,
    reply_token,
    tenant_of_case,
)
from support.rules.customer_replies import STILL_OPENING
from support.rules.request import case_id_for
from support.sla_clocks.clocks import ClockName
from support.wording.text_shapes import MESSAGE_MAX
from tests import hostile_mail
from tests.case_driver import Driver, Refused
from tests.conftest import running_worker
from tests.deliveries import delivered, mails
from tests.requests import case_request
from tests.system.test_api import as_key, keyring, serve
from tests.unit.test_case_machine import T0
from tests.unit.test_case_machine import open_case as open_driven_case

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPS = Principal(name="ops", role=Role.OPERATOR)
ENGINEER = "li.wei"
ASSIGNEE_MAILBOX = "li.wei@casework.example"  # staff.toml
CUSTOMER = "admin@contoso.example"
MAX_ATTACHMENT = 2000
MAX_MESSAGE = 20_000
NO_SUCH = "5.1.1 no such case address"


@dataclass
class Stack:
    settings: Settings
    cases: Cases
    listener: InboundListener
    http: httpx.AsyncClient
    temporal: str  # the dev server's address, for `starter.py`


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    root: Path = tmp_path_factory.mktemp("inbound")
    sink = MailSink(root / "var" / "mail").start()  # the customer's and the staff's mail server
    settings = local_settings(root / "var", sink, task_queue=f"inbound-{uuid.uuid4().hex[:8]}").replace(
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
                    target = env.client.service_client.config.target_host
                    yield Stack(settings, cases, listener, http, target)
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


async def acknowledgement(stack: Stack, case_id: str, customer: str = CUSTOMER) -> EmailMessage:
    """The acknowledgement as it reached the customer's mailbox."""
    await delivered(stack.settings, case_id, "/acknowledged/")
    # (a case id too long for one header line is folded: its header reads with a leading space)
    [ack] = [
        m
        for m in mails(stack.settings)
        if str(m["X-Casework-Case"]).strip() == case_id and m["To"] == customer
    ]
    return ack


def key_of(stack: Stack) -> bytes:
    return reply_key(verification_key(stack.settings))


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
    assert str(ack["Reply-To"]) == reply_address(case_id, stack.settings.reply_to_domain, key_of(stack))
    assert ack["Auto-Submitted"] == "auto-generated", "RFC 3834: robots do not answer it"
    await stack.cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking at it"))
    asked = await stack.cases.act(case_id, CustomerActionRequest(engineer=ENGINEER, what="Send a call trace"))
    assert asked.clocks_moved == [ClockName.CUSTOMER_UPDATE], "the receipt says which clock it moved"
    shown = await stack.cases.show(case_id)
    assert shown.pauses and shown.pauses[-1].resumed_at is None, "the update clock waits for the customer"

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
    assert (code, text) == (550, NO_SUCH), "refused at RCPT"
    never = f"case+case-contoso.never@{stack.settings.reply_to_domain}"
    code, text = await send(stack.listener.port, reply_to(ack, "hello"), to=never)
    assert (code, text) == (550, NO_SUCH)

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


async def test_a_guessed_case_address_is_refused_like_an_unknown_case(stack: Stack) -> None:
    """The case id is guessable, its address is not: a made-up token, the token of a case casework
    never wrote to, an address of the earlier form (case+<case-id>.<mac>) without the MAC or with a
    wrong one, are refused with the very text an unknown case gets, even from the case's own
    customer (so RCPT tells nobody which cases exist). The earlier form with its MAC, as mail sent
    before the tokens carries it, still lands."""
    case_id = await open_case(stack, "guessed")
    ack = await acknowledgement(stack, case_id)
    domain = stack.settings.reply_to_domain
    key = key_of(stack)
    earlier = mac_reply_address(case_id, domain, key)
    assert earlier is not None
    mac = earlier.partition("@")[0].rpartition(".")[2]
    token = reply_token(case_id, key)
    changed = token[:-1] + ("b" if token.endswith("a") else "a")  # never the token itself
    guesses = [
        f"case+{case_id}@{domain}",  # the address as it was first: case id only
        f"case+{case_id}.{'a' * len(mac)}@{domain}",
        f"case+{case_id}.{mac[:-1]}@{domain}",
        f"case+case-contoso.never.{mac}@{domain}",  # a MAC of another case
        f"case+{'q' * 26}@{domain}",  # a made-up token
        f"case+{changed}@{domain}",  # the real token, one character changed
    ]
    unknown = mac_reply_address("case-contoso.never-opened", domain, key)  # a right MAC, no such case
    assert unknown is not None
    never_sent = reply_address("case-contoso.never-opened", domain, key)  # its token, never recorded
    for address in [*guesses, unknown, never_sent]:
        code, text = await send(stack.listener.port, reply_to(ack, "Let me in"), to=address)
        assert (code, text) == (550, NO_SUCH), address
    assert (await view(stack, case_id)).replies_received == 0
    code, text = await send(stack.listener.port, reply_to(ack, "The real one"))
    assert (code, text) == (250, f"2.0.0 added to case {case_id}")
    code, text = await send(stack.listener.port, reply_to(ack, "To the earlier address"), to=earlier)
    assert (code, text) == (250, f"2.0.0 added to case {case_id}"), "mail sent before the tokens"
    assert (await view(stack, case_id)).replies_received == 2


def delivery_report(to: str, action: str = "failed", said: str = "") -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes one, for `to`."""
    diagnostic = said or (
        "smtp; 550 5.1.1 <admin@contoso.example>: Recipient address rejected: "
        "User unknown in local recipient table"
    )
    cut = diagnostic.rfind(" ", 0, 70)
    first, rest = (diagnostic[:cut], diagnostic[cut + 1 :]) if cut > 0 else (diagnostic, "")
    return (
        "From: MAILER-DAEMON@mx.contoso.example (Mail Delivery System)\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.contoso.example')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.contoso.example\r\n\r\n"
        "Final-Recipient: rfc822; admin@contoso.example\r\n"
        f"Action: {action}\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: {first}\r\n    {rest}\r\n"  # folded, as Postfix folds it
        "--R\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: Case opened\r\n"
        "--R--\r\n"
    ).encode()


async def test_a_delivery_report_marks_its_notification_failed_once_with_the_servers_text(
    stack: Stack,
) -> None:
    """The acknowledgement went out from its own envelope sender (VERP); the report a mail server
    sends back to it later marks that notification failed on the case, with the server's text
    (masked), in the timeline, the assignee told, the contact-data obligation not met: once. A
    second report, or a mail that is no report, changes nothing."""
    case_id = await open_case(stack, "bounced")
    ack = await acknowledgement(stack, case_id)
    notification_id = str(ack["X-Casework-Notification"]).strip()
    address = bounce_address(notification_id, stack.settings.reply_to_domain, key_of(stack))
    out_of_office = reply_to(ack, "I am out of the office", Auto_Submitted="auto-replied")
    code, text = await send(stack.listener.port, out_of_office, sender="", to=address)
    assert (code, text) == (250, "2.6.0 accepted: not a report of a failed delivery")
    delayed = delivery_report(address, action="delayed", said="smtp; 451 4.2.0 try later")
    assert (await send(stack.listener.port, delayed, sender="", to=address))[0] == 250
    # a report from anyone but the null sender (the customer, who can read the Return-Path) is no report
    forged = await send(stack.listener.port, delivery_report(address), sender=CUSTOMER, to=address)
    assert forged == (250, "2.6.0 accepted: delivery reports come from the null sender")
    assert (await view(stack, case_id)).failed_notifications == []

    code, text = await send(stack.listener.port, delivery_report(address), sender="", to=address)
    assert (code, text) == (250, f"2.0.0 bounce recorded on case {case_id}")
    case = await view(stack, case_id)
    [failed] = case.failed_notifications
    assert failed.notification_id == notification_id and failed.audience.value == "customer"
    assert "User unknown in local recipient table" in failed.reason, failed.reason
    assert "a***@contoso.example" in failed.reason and CUSTOMER not in failed.reason
    kinds = [e.kind for e in case.timeline]
    assert kinds.count("notification_failed") == 1 and "obligation_not_met" in kinds
    contact = next(r for r in case.customer_requests if r.request_id == "contact_data")
    assert contact.outstanding, "a customer who cannot be reached has not met the contact-data obligation"
    told = await delivered(stack.settings, case_id, "/notification_failed/")
    assert len([i for i in told if "/notification_failed/" in i]) == 1, told
    notice = [
        m
        for m in mails(stack.settings, case_id)
        if "/notification_failed/" in str(m["X-Casework-Notification"])
    ]
    assert len(notice) == 1 and "User unknown in local recipient table" in text_of(notice[0])

    code, text = await send(stack.listener.port, delivery_report(address), sender="", to=address)
    assert (code, text) == (250, "2.0.0 bounce already recorded"), "a second report changes nothing"
    again = await view(stack, case_id)
    assert len(again.failed_notifications) == 1
    assert [e.kind for e in again.timeline].count("notification_failed") == 1


async def test_a_forged_delivery_report_is_refused_at_rcpt_like_any_unknown_address(stack: Stack) -> None:
    """No backscatter: a report to a bounce address casework never sent (made up, one character off
    a real one, or computed for a notification that never went out) is refused in the sender's own
    session with the text every unknown address gets, and no case changes."""
    case_id = await open_case(stack, "forged")
    ack = await acknowledgement(stack, case_id)
    domain = stack.settings.reply_to_domain
    real = bounce_address(str(ack["X-Casework-Notification"]).strip(), domain, key_of(stack))
    local = real.partition("@")[0]
    changed = local[:-1] + ("b" if local.endswith("a") else "a")
    never_sent = bounce_address(f"{case_id}/resolved/0/customer", domain, key_of(stack))
    for address in [
        f"bounce+{'q' * 26}@{domain}",
        f"{changed}@{domain}",
        never_sent,
        f"bounce+{case_id}@{domain}",
    ]:
        code, text = await send(stack.listener.port, delivery_report(address), sender="", to=address)
        assert (code, text) == (550, NO_SUCH), address
    assert (await view(stack, case_id)).failed_notifications == []


async def test_the_case_with_the_longest_id_gets_a_reply_address_and_its_reply_lands(stack: Stack) -> None:
    """case-<63-character tenant>.<64-character request id>, 133 characters: its Reply-To fits the
    64 octets RFC 5321 allows a local part (before the tokens, a case id over 45 characters got
    none), and a reply to it lands on the case."""
    tenant = ("long-tenant-" + uuid.uuid4().hex * 2)[:63]
    customer = f"admin@{tenant[:20]}.example"
    engine = open_database(stack.settings)
    try:
        record = TenantRecord(
            name="A tenant with the longest id", country="HU", time_zone="Europe/Budapest", admins=[customer]
        )
        import_directory(engine, DirectoryFile(tenants={tenant: record}))
    finally:
        engine.dispose()
    request_id = (uuid.uuid4().hex * 2)[:64]
    request = case_request(request_id, tenant, requester=customer, contact_email=customer)
    case_id = (await stack.cases.open(request, OPS)).case.case_id
    assert case_id == case_id_for(tenant, request_id) and len(case_id) == 133
    ack = await acknowledgement(stack, case_id, customer)
    local = str(ack["Reply-To"]).partition("@")[0]
    assert ack["Reply-To"] is not None and len(local.encode()) <= 64, ack["Reply-To"]
    assert local == f"case+{reply_token(case_id, key_of(stack))}"
    code, text = await send(stack.listener.port, reply_to(ack, "It fails for everyone", customer), customer)
    assert (code, text) == (250, f"2.0.0 added to case {case_id}")
    case = await view(stack, case_id)
    assert case.replies_received == 1
    assert "It fails for everyone" in str(case.model_dump())


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
        key = reply_key(verification_key(settings))
        ReplyAddresses(engine).remember(reply_token("case-contoso.r-1", key), "case-contoso.r-1", "contoso")
        address = reply_address("case-contoso.r-1", settings.reply_to_domain, key)
        earlier = mac_reply_address("case-contoso.r-1", settings.reply_to_domain, key)
        assert earlier is not None
        for to in (address, earlier):
            code, text = await send(listener.port, mail, to=to)
            assert code == 451 and text.startswith("4.3.0"), text
    finally:
        await listener.stop()
        engine.dispose()
        sink.stop()


# -- hostile mail (issue 29), over the real listener -----------------------------------------------


async def test_a_reply_of_quote_markers_lands_and_its_stripping_is_bounded(stack: Stack) -> None:
    """Before issue 29, a line of "> " took the reply parser quadratic time (10 KB: 5.6 s of CPU,
    30 KB: 24 s, all of it on the event loop); the structural bound is checked in
    tests/system/test_inbound_rules.py, the time under load in tests/faults/test_hostile_mail.py."""
    case_id = await open_case(stack, "markers")
    ack = await acknowledgement(stack, case_id)
    to = str(ack["Reply-To"])
    code, text = await send(stack.listener.port, hostile_mail.quote_markers(CUSTOMER, to, 5_000), to=to)
    assert (code, text) == (250, f"2.0.0 added to case {case_id}")
    assert (await view(stack, case_id)).replies_received == 1


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda to: hostile_mail.many_parts(CUSTOMER, to, 150), "more than 100 MIME parts"),
        (lambda to: hostile_mail.deep_nesting(CUSTOMER, to, 20), "nested more than 10 deep"),
        (lambda to: hostile_mail.many_headers(CUSTOMER, to, 600), "more than 500 header fields"),
        (lambda to: hostile_mail.line_break_in_from(CUSTOMER, to), "malformed"),
    ],
    ids=["parts", "depth", "headers", "line-break-in-from"],
)
async def test_mail_over_the_limits_or_unreadable_is_refused_for_good_with_its_reason(
    stack: Stack, build: Callable[[str], bytes], reason: str
) -> None:
    """554 5.6.0, never 451: the same bytes would fail the same way, so the relay must not retry."""
    case_id = await open_case(stack, "limits")
    to = str((await acknowledgement(stack, case_id))["Reply-To"])
    code, text = await send(stack.listener.port, build(to), to=to)
    assert code == 554 and text.startswith("5.6.0 the mail cannot be read") and reason in text, text
    assert (await view(stack, case_id)).replies_received == 0


async def test_auto_submitted_no_with_a_comment_is_a_persons_reply(stack: Stack) -> None:
    """RFC 3834: `no` with a comment is still `no`; before issue 29 it was taken for a robot's."""
    case_id = await open_case(stack, "person")
    ack = await acknowledgement(stack, case_id)
    mail = reply_to(ack, "Typed by me, not a robot.", Auto_Submitted="no (sent by a person)")
    assert await send(stack.listener.port, mail) == (250, f"2.0.0 added to case {case_id}")
    case = await view(stack, case_id)
    assert case.replies_received == 1 and "Typed by me" in str(case.model_dump())


def starter(stack: Stack, *argv: str) -> tuple[int, str, str]:
    """`starter.py` as an operator runs it, on this stack's database and Temporal server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEWORK_", "TEMPORAL_", "DATABASE_"))}
    env |= {
        "CASEWORK_VAR": str(stack.settings.var_dir),
        "CASEWORK_TASK_QUEUE": stack.settings.task_queue,
        "TEMPORAL_ADDRESS": stack.temporal,
    }
    done = subprocess.run(
        [sys.executable, "starter.py", *argv], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


async def test_a_doubtful_mail_is_held_and_released_onto_its_case_once(stack: Stack) -> None:
    """A mailing list's headers on a customer's reply (a shared mailbox): it may be a robot's or a
    person's. Held, never dropped unseen; listed by `mail quarantine` (sender masked, no body);
    `mail release ID` adds it to the case once, and a second release is refused."""
    case_id = await open_case(stack, "held")
    ack = await acknowledgement(stack, case_id)
    mail = reply_to(ack, "Sent through our support group.", List_Id="<support.contoso.example>")
    code, text = await send(stack.listener.port, mail)
    assert code == 250 and "held for review" in text, text
    assert (await view(stack, case_id)).replies_received == 0, "held, not on the case yet"

    code, out, err = await asyncio.to_thread(starter, stack, "mail", "quarantine")
    assert code == 0, err
    [held] = [h for h in json.loads(out) if h["case_id"] == case_id]
    assert held["sender"] == "a***@contoso.example" and "List-Id" in held["reason"]
    assert "Sent through" not in out and CUSTOMER not in out, "no body, no address"

    code, out, err = await asyncio.to_thread(starter, stack, "mail", "release", str(held["id"]))
    assert code == 0, err
    assert json.loads(out)["answer"] == f"250 2.0.0 added to case {case_id}"
    case = await view(stack, case_id)
    assert case.replies_received == 1 and "Sent through our support group." in str(case.model_dump())

    code, out, err = await asyncio.to_thread(starter, stack, "mail", "release", str(held["id"]))
    assert code == 5 and "released already" in err, (code, err)
    code, _, err = await asyncio.to_thread(starter, stack, "mail", "release", "999999")
    assert code == 4 and "no held mail" in err
    assert (await view(stack, case_id)).replies_received == 1, "exactly once"
    code, out, _ = await asyncio.to_thread(starter, stack, "mail", "quarantine")
    assert case_id not in out, "released: no longer listed"
    assert await send(stack.listener.port, mail) == (250, f"2.0.0 already on case {case_id}")


# -- the routing over the pure case (tests.case_driver) and a real store: no Temporal ------------


class DrivenCases:
    """The gateway as the inbound mail uses it, over the pure case: its view, or its refusal as
    the intake raises it (ActionRejected)."""

    def __init__(self, driver: Driver | None, refusal_text: str | None = None) -> None:
        self.driver = driver
        self.refusal_text = refusal_text
        self.replies: list[CustomerReply] = []

    @property
    def client(self) -> Client:
        raise AssertionError("not asked: the addresses are given")

    async def receive_reply(self, case_id: str, reply: CustomerReply) -> ActionReceipt:
        self.replies.append(reply)
        if self.refusal_text is not None:
            raise ActionRejected(self.refusal_text)
        assert self.driver is not None
        before = clock_marks(self.driver.view)
        try:
            return receipt(self.driver.act(reply), before)
        except Refused as refused:
            raise ActionRejected(refused.reason) from None

    async def show(self, case_id: str) -> CaseView:
        assert self.driver is not None
        return self.driver.view

    async def follow_up(self, case_id: str, reply: CustomerReply) -> OpenedCase | None:
        return None  # no case here is closed after its reopen window (tests/workflow/test_reopen_by_reply.py)


@dataclass
class Routed:
    routing: InboundMail
    cases: DrivenCases
    engine: Engine
    address: str
    case_id: str

    def kept(self) -> list[str]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(attachments.c.filename).where(attachments.c.case_id == self.case_id)
            )
            return sorted(row[0] for row in rows)


def unit_settings(tmp_path: Path) -> Settings:
    """Settings of a stack without a mail server (nothing is sent)."""
    return local_settings(tmp_path / "var", cast(MailSink, SimpleNamespace(port=1)))


@contextmanager
def routed(tmp_path: Path, cases: DrivenCases, case_id: str = "case-contoso.unit-1") -> Iterator[Routed]:
    settings = unit_settings(tmp_path).replace(
        inbound_max_attachment_bytes=100_000, inbound_max_attachments=3
    )
    engine = open_database(settings)
    try:
        routing = inbound_mail(settings, cases, engine, reader=InlineReader(mail_limits(settings)))

        async def addresses(case: str) -> CaseAddresses:
            return CaseAddresses("contoso", CUSTOMER, CUSTOMER)

        routing._addresses = addresses  # type: ignore[method-assign,assignment]
        key = reply_key(verification_key(settings))
        ReplyAddresses(engine).remember(reply_token(case_id, key), case_id, tenant_of_case(case_id))
        address = reply_address(case_id, settings.reply_to_domain, key)
        yield Routed(routing, cases, engine, address, case_id)
    finally:
        engine.dispose()


def customer_mail(body: str, *files: tuple[str, bytes]) -> bytes:
    mail = EmailMessage()
    mail["From"] = CUSTOMER
    mail["Message-ID"] = make_msgid(domain="contoso.example")
    mail.set_content(body)
    for name, content in files:
        mail.add_attachment(content, maintype="text", subtype="plain", filename=name)
    return mail.as_bytes()


async def test_a_reply_longer_than_a_message_is_kept_whole_in_reply_txt(tmp_path: Path) -> None:
    driver = open_driven_case("unit-long")
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    text = "".join(f"line {n}: the log says it failed\n" for n in range(1500)).strip()
    assert len(text) > MESSAGE_MAX
    with routed(tmp_path, DrivenCases(driver), driver.view.case_id) as it:
        answer = await it.routing.message(CUSTOMER, it.address, customer_mail(text, ("a.txt", b"a")))
        assert answer.code == 250, answer.line
        [reply] = it.cases.replies
        assert len(reply.body) <= MESSAGE_MAX and reply.body.startswith(text[:1000])
        assert reply.body.endswith("continues in the attachment reply.txt]")
        assert [a.filename for a in reply.attachments] == ["a.txt", "reply.txt"]
        assert [a.filename for a in driver.view.attachments] == ["a.txt", "reply.txt"]
        store = AttachmentStore(it.engine)
        full = store.get(it.case_id, reply.attachments[1].attachment_id)
        assert full is not None and full.content.decode("utf-8") == text

        over = await it.routing.message(
            CUSTOMER, it.address, customer_mail(text, ("a.txt", b"a"), ("b.txt", b"b"), ("c.txt", b"c"))
        )
        assert over.code == 552 and "reply.txt" in over.text, "no room for the full text: said so"


@pytest.mark.parametrize(
    "reason",
    [
        "cannot take a reply: the case is still being opened; try again in a moment",
        "cannot take a reply right now: the case is moving to a new run (its history is long); "
        "send it again in a moment",
    ],
)
async def test_a_reply_the_case_refuses_for_now_is_deferred_with_451(tmp_path: Path, reason: str) -> None:
    with routed(tmp_path, DrivenCases(None, reason)) as it:
        answer = await it.routing.message(CUSTOMER, it.address, customer_mail("hello", ("a.txt", b"a")))
        assert answer.code == 451 and answer.text.startswith("4."), answer.line
        assert it.kept() == [], "its attachments are stored again when it comes back"


async def test_the_refusal_of_a_case_being_opened_is_one_the_inbound_side_defers() -> None:
    request = open_driven_case("unit-new").case.request
    record = CaseRecord.begin(CaseStart(request=request), T0, request.case_id)
    reason = refusal(record, CustomerReply(message_id="0" * 64, sender="a***@c.example", body="hi"), T0)
    assert reason is not None and STILL_OPENING in reason


async def test_a_reply_taken_as_the_survey_answer_keeps_no_attachments(tmp_path: Path) -> None:
    driver = open_driven_case("unit-survey", severity="C")
    driver.act(FirstResponse(engineer=ENGINEER, message="Looking at it"))
    driver.act(Resolution(engineer=ENGINEER, summary="Fixed"))
    driver.advance(timedelta(days=7, minutes=1))
    with routed(tmp_path, DrivenCases(driver), driver.view.case_id) as it:
        answer = await it.routing.message(CUSTOMER, it.address, customer_mail("5 thanks", ("log.txt", b"x")))
        assert answer.code == 250, answer.line
        survey = driver.view.survey
        assert survey is not None and survey.score == 5 and driver.view.attachments == []
        assert it.kept() == [], "nothing lists them: they are not kept"


async def test_a_port_that_cannot_be_bound_stops_the_start_with_one_line(tmp_path: Path) -> None:
    settings = unit_settings(tmp_path)
    engine = open_database(settings)
    taken = socket.socket()
    try:
        taken.bind((settings.inbound_smtp_host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CannotListen) as stopped:  # exit status 2 from worker.py
            await start_inbound_listener(settings, DrivenCases(None), engine, port=port)
        line = str(stopped.value)
        assert "\n" not in line and "CASEWORK_INBOUND_SMTP_PORT" in line and str(port) in line
        off = settings.replace(inbound_smtp_port=None)
        assert await start_inbound_listener(off, DrivenCases(None), engine) is None, "0: off, allowed"
    finally:
        taken.close()
        engine.dispose()

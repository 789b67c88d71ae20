"""Notifications that reach people: real SMTP (aiosmtpd) and a real webhook receiver, exactly once;
webhooks signed over a timestamp and the body; engineers reached only through the staff list."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.delivery import DeliveryActivities
from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger
from adapters.mail_sink import MailSink, free_port, text_of
from adapters.messages import Renderer
from adapters.reply_addresses import ReplyAddresses
from adapters.secrets import verification_key
from adapters.settings import PROJECT_ROOT, Settings
from adapters.smtp_out import message_id
from adapters.staff import StaffFileError, parse_staff
from application.cases import Cases
from bootstrap.worker_runtime import build_worker, delivery_config
from support.case.actions import Cooperation, FirstResponse
from support.messaging.notifications import Audience, Notification
from support.messaging.reply_addresses import reply_key, reply_token, token_of
from support.messaging.routing import Addresses, Route, routes
from support.messaging.webhook_signature import sign, verify
from support.wording.display import local_time
from tests.conftest import case_clock, running_worker
from tests.deliveries import delivered, ledger, mails
from tests.receivers import WebhookReceiver, readme_check
from tests.requests import case_request

SECRET = "s3cret-for-tests-0123456789abcdef"  # 32 bytes at least, or the worker refuses it


def mail_for(settings: Settings, case_id: str, fragment: str) -> list[EmailMessage]:
    return [m for m in mails(settings, case_id) if fragment in str(m["X-Casework-Notification"])]


@pytest.mark.parametrize(
    ("language", "subject", "due_label"),
    [
        ("en", "We have received your support request", "First response due"),
        ("zh-CN", "我们已收到您的支持请求", "首次响应截止时间"),
        ("hu", "Megkaptuk a támogatási kérését", "Első válasz határideje"),
    ],
)
async def test_acknowledgement_email_in_the_customers_language_and_zone(
    time_env: WorkflowEnvironment,
    settings: Settings,
    request_id: str,
    language: str,
    subject: str,
    due_label: str,
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = (await cases.open(case_request(request_id, "fabrikam", severity="B", language=language))).case
        await delivered(settings, view.case_id, "/acknowledged/0/customer")
    [ack] = [
        m for m in mails(settings, view.case_id) if "/acknowledged/" in str(m["X-Casework-Notification"])
    ]
    assert ack["To"] == "it@fabrikam.example"
    assert view.case_number is not None, "every new case has a number people can say"
    assert ack["Subject"] == f"[{view.case_number}] {subject}"
    assert ack["Content-Language"] == language
    assert str(ack["Message-ID"]).strip() == message_id(
        f"{view.case_id}/acknowledged/0/customer", "support.casework.example"
    )
    # the case's address with its token (support.messaging.reply_addresses), recorded for the inbound listener
    key = reply_key(verification_key(settings))
    token = token_of(str(ack["Reply-To"]), "support.casework.example")
    assert token == reply_token(view.case_id, key)
    engine = open_database(settings)
    try:
        assert ReplyAddresses(engine).case_for(token) == view.case_id
    finally:
        engine.dispose()
    assert ack["Auto-Submitted"] == "auto-generated"
    assert {p.get_content_type() for p in ack.walk()} >= {"multipart/alternative", "text/plain", "text/html"}
    body = text_of(ack)
    assert view.first_response is not None and view.first_response.due is not None
    assert f"{due_label}" in body and local_time(view.first_response.due, "Europe/Budapest") in body
    assert "B" in body


async def test_routing_is_policy_data_requester_and_account_manager(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        a = (
            await cases.open(
                case_request(request_id + "-a", severity="A", contact_email="it-desk@contoso.example")
            )
        ).case.case_id
        b = (await cases.open(case_request(request_id + "-b", "fabrikam", severity="B"))).case.case_id
        await cases.act(b, FirstResponse(engineer="li.wei", message="Looking"))
        ids_a = await delivered(
            settings,
            a,
            "/acknowledged/0/requester",
            "/new_case/0/account_manager",
            "/new_case/0/support_queue",
        )
        ids_b = await delivered(settings, b, "/first_response/0/customer", settle=0.3)
    recipients = {str(m["To"]) for m in mails(settings, a)}
    assert {"it-desk@contoso.example", "admin@contoso.example", "am.contoso@casework.example"} <= recipients
    assert any(i.endswith("/new_case/0/support_queue") for i in ids_a)
    assert not [i for i in ids_b if i.endswith("/account_manager")], "account managers hear of A cases only"
    assert not [i for i in ids_b if "/requester" in i], "the requester is the contact: told once"


async def test_smtp_down_then_up_delivers_once_and_the_case_keeps_its_timers(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: object
) -> None:
    port = free_port()
    down = settings.replace(smtp_port=port)
    async with running_worker(time_env.client, down) as cases:
        view = (await cases.open(case_request(request_id, severity="A"))).case
        await time_env.sleep(timedelta(minutes=31))  # past the 50 % warning, while mail is down
        during = await cases.show(view.case_id)
        assert during.first_response is not None and during.first_response.warnings_sent == ["sla_warning_50"]
        assert during.failed_notifications == [] and await delivered(settings, view.case_id) == []
        sink = MailSink(settings.mail_dir, port=port).start()
        try:
            await time_env.sleep(timedelta(minutes=11))  # the next retry, at most max_interval later
            ids = await delivered(
                settings, view.case_id, "/acknowledged/0/customer", "/sla_warning_50/0/", settle=0.5
            )
        finally:
            sink.stop()
    assert len(ids) == len(set(ids))
    acks = [
        m
        for m in mails(settings, view.case_id)
        if "/acknowledged/0/customer" in str(m["X-Casework-Notification"])
    ]
    assert len(acks) == 1, "delivered once after the mail server came back"


async def test_webhook_500_then_200_one_delivery_same_idempotency_key(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with WebhookReceiver(script=[500, 503], secret=SECRET) as receiver:
        hooked = settings.replace(webhook_support_queue=receiver.url, webhook_secret=SECRET)
        async with running_worker(time_env.client, hooked) as cases:
            view = (await cases.open(case_request(request_id, severity="B", category="billing"))).case
            await time_env.sleep(timedelta(seconds=10))
            await delivered(settings, view.case_id, "/new_case/0/support_queue")
    keys = {r.headers["idempotency-key"] for r in receiver.received}
    assert keys == {f"{view.case_id}/new_case/0/support_queue"}
    assert [r.status for r in receiver.received] == [500, 503, 200]
    for request in receiver.received:  # every attempt passed docs/webhooks.md's check (else: 401)
        assert verify(SECRET, request.headers["x-casework-signature"], request.body, time.time())
    payload = json.loads(receiver.accepted()[0].body)
    assert payload["event"] == "new_case" and payload["case_id"] == view.case_id and payload["subject"]
    rows = [
        r
        for r in ledger(settings, view.case_id)
        if r["notification_id"] == f"{view.case_id}/new_case/0/support_queue"
    ]
    assert [(r["channel"], r["status"]) for r in rows] == [("webhook", "sent")]


async def test_webhook_400_is_not_retried_and_is_visible_in_the_case(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with WebhookReceiver(script=[400]) as receiver:
        hooked = settings.replace(webhook_support_queue=receiver.url, webhook_secret=SECRET)
        async with running_worker(time_env.client, hooked) as cases:
            view = (await cases.open(case_request(request_id, severity="B"))).case
            await time_env.sleep(timedelta(minutes=5))
            after = await cases.show(view.case_id)
    assert len(receiver.received) == 1, "a 400 is not retried"
    [failed] = after.failed_notifications
    assert (failed.event, failed.audience) == ("new_case", Audience.SUPPORT_QUEUE)
    assert "webhook answered 400" in failed.reason
    assert "notification_failed" in [e.kind for e in after.timeline]
    assert after.status.value == "awaiting_first_response", "the case goes on"
    rows = [
        r
        for r in ledger(settings, view.case_id)
        if str(r["notification_id"]).endswith("/new_case/0/support_queue")
    ]
    assert [(r["channel"], r["status"]) for r in rows] == [("webhook", "failed")]


class StopsAfterFirstAcknowledgement(DeliveryActivities):
    """Delivers, records it in the ledger, then hangs: the worker is stopped right there."""

    hung = False

    async def _after_delivery(self, notification: Notification) -> None:
        if "/acknowledged/" in notification.notification_id and not StopsAfterFirstAcknowledgement.hung:
            StopsAfterFirstAcknowledgement.hung = True
            await asyncio.Event().wait()


async def test_worker_restarted_between_send_and_completion_sends_no_second_email(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    StopsAfterFirstAcknowledgement.hung = False  # a run before in this process left it set
    hanging = StopsAfterFirstAcknowledgement(
        delivery_config(settings),
        DeliveryLedger(open_database(settings)),
        Renderer(PROJECT_ROOT / "templates"),
    )
    cases = Cases(time_env.client, settings.task_queue, case_clock=case_clock(time_env.client))
    async with (
        hanging,
        build_worker(  # the test owns its deliveries: it closes their connections
            time_env.client, settings, delivery=hanging, graceful_shutdown=timedelta(seconds=1)
        ),
    ):
        view = (await cases.open(case_request(request_id, severity="B"))).case
        # the mail reaches the sink before the ledger records it and the activity hangs: wait for
        # the hang itself (waiting for the mail alone lost that race under load)
        for _ in range(400):
            if StopsAfterFirstAcknowledgement.hung and mail_for(
                settings, view.case_id, "/acknowledged/0/customer"
            ):
                break
            await asyncio.sleep(0.05)
        assert StopsAfterFirstAcknowledgement.hung
    # The first worker is gone mid-activity; a new one picks up the retry.
    async with running_worker(time_env.client, settings):
        handle = time_env.client.get_workflow_handle(view.case_id)
        for _ in range(300):  # the retry comes after a 1 s backoff; the test server counts it in real time
            history = await handle.fetch_history()
            kinds = [e.event_type for e in history.events]
            if kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) == kinds.count(
                EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            ):
                break
            await asyncio.sleep(0.1)
    assert len(mail_for(settings, view.case_id, "/acknowledged/0/customer")) == 1, (
        "the ledger stopped a second email"
    )
    scheduled = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    completed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    assert len(completed) == len(scheduled), "every delivery, the interrupted one too, completed"
    started = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert max(started) >= 2, "the interrupted delivery was retried"


# -- webhook signatures: t=<unix>,v1=<hmac of "t." + body> ------

BODY = b'{"case_id":"case-1","event":"new_case"}'


@pytest.mark.parametrize(
    ("case", "header", "body", "secret"),
    [
        ("tampered body", sign(SECRET, BODY, 1_800_000_000), BODY.replace(b"new_case", b"resolved"), SECRET),
        ("wrong secret", sign("not-the-secret", BODY, 1_800_000_000), BODY, SECRET),
        ("10 minutes old", sign(SECRET, BODY, 1_800_000_000 - 600), BODY, SECRET),
        ("10 minutes ahead", sign(SECRET, BODY, 1_800_000_000 + 600), BODY, SECRET),
        ("no time", "v1=" + sign(SECRET, BODY, 1_800_000_000).split("v1=")[1], BODY, SECRET),
        ("two times", "t=1,t=1800000000," + sign(SECRET, BODY, 1_800_000_000).split(",")[1], BODY, SECRET),
        ("old scheme", "sha256=00", BODY, SECRET),
        ("empty secret", sign(SECRET, BODY, 1_800_000_000), BODY, ""),
    ],
)
def test_verify_refuses_what_the_signature_does_not_cover(
    case: str, header: str, body: bytes, secret: str
) -> None:
    assert not verify(secret, header, body, now=1_800_000_000), case


def test_verify_accepts_its_own_signature_within_five_minutes_and_a_rotated_key() -> None:
    header = sign(SECRET, BODY, 1_800_000_000)
    assert header.startswith("t=1800000000,v1=")
    assert verify(SECRET, header, BODY, now=1_800_000_000 + 299)
    assert verify(SECRET, header, BODY, now=1_800_000_000 - 299)
    assert not verify(SECRET, header, BODY, now=1_800_000_000 + 301)
    rotated = header + ",v1=" + sign("next-secret", BODY, 1_800_000_000).split("v1=")[1]
    assert verify("next-secret", rotated, BODY, now=1_800_000_000), "either v1 may match"
    with pytest.raises(ValueError, match="secret"):
        sign("", BODY, 1_800_000_000)


def test_the_readmes_receiver_check_agrees_with_verify() -> None:
    check, now = readme_check(), int(time.time())
    assert check(SECRET, sign(SECRET, BODY, now), BODY)
    assert not check(SECRET, sign(SECRET, BODY, now), BODY + b" ")
    assert not check(SECRET, sign("wrong", BODY, now), BODY)
    assert not check(SECRET, sign(SECRET, BODY, now - 600), BODY)


def deliveries_for(settings: Settings) -> DeliveryActivities:
    """The worker's delivery activities, run here without a worker (ActivityEnvironment)."""
    ledger = DeliveryLedger(open_database(settings))
    return DeliveryActivities(delivery_config(settings), ledger, Renderer(PROJECT_ROOT / "templates"))


def engineer_notice(case_id: str, engineer: str) -> Notification:
    """A follow-up for `engineer`, made directly: the actions refuse such names before a case sees them."""
    return Notification(
        notification_id=f"{case_id}/follow_up/0/engineer",
        case_id=case_id,
        event="follow_up",
        template="follow_up",
        audience=Audience.ENGINEER,
        time_zone="Asia/Shanghai",
        engineer=engineer,
        facts={"engineer": engineer, "severity": "A", "title": "Exchange Online is down"},
    )


async def test_receiver_accepts_casework_and_refuses_tampered_wrong_key_and_replayed_deliveries(
    settings: Settings, request_id: str
) -> None:
    async with WebhookReceiver(secret=SECRET) as receiver:
        hooked = settings.replace(webhook_support_queue=receiver.url, webhook_secret=SECRET)
        async with deliveries_for(hooked) as deliveries:  # closes the connections it kept
            receipt = await ActivityEnvironment().run(
                deliveries.deliver_notification, engineer_notice(f"case-{request_id}", "mallory")
            )
        assert receipt.channel == "webhook"
        [sent] = receiver.received
        assert sent.status == 200, "casework's own signature passes docs/webhooks.md's check"
        header, now = sent.headers["x-casework-signature"], int(time.time())
        forged = {
            "tampered body": (header, sent.body.replace(b"mallory", b"li.wei")),
            "wrong secret": (sign("guessed", sent.body, now), sent.body),
            "10 minutes old": (sign(SECRET, sent.body, now - 600), sent.body),
            "unsigned": ("", sent.body),
        }
        async with httpx.AsyncClient() as client:
            for case, (signature, body) in forged.items():
                headers = {"X-Casework-Signature": signature}
                response = await client.post(receiver.url, content=body, headers=headers)
                assert response.status_code == 401, case
    assert [r.status for r in receiver.received] == [200, 401, 401, 401, 401]


def test_a_webhook_without_a_secret_stops_the_worker_with_one_line(
    tmp_path: Path, settings: Settings
) -> None:
    ours = ("CASEWORK_", "TEMPORAL_", "SMTP_", "METRICS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env |= {
        "CASEWORK_VAR": str(tmp_path / "worker-var"),
        "CASEWORK_DEV_SERVER_PORT": str(free_port()),
        "CASEWORK_UI_PORT": str(free_port()),
        "CASEWORK_SMTP_SINK_PORT": str(free_port()),
        "CASEWORK_INBOUND_SMTP_PORT": "0",
        "CASEWORK_HEALTH_PORT": "0",
        "CASEWORK_WEBHOOK_ESCALATION": "http://127.0.0.1:9/hook",
    }
    for secret, expected in [
        ("", "CASEWORK_WEBHOOK_ESCALATION is set but CASEWORK_WEBHOOK_SECRET is empty"),
        ("s3cret", "CASEWORK_WEBHOOK_SECRET: must be at least 32 bytes (e.g. `openssl rand -hex 32`), got 6"),
    ]:
        done = subprocess.run(
            [sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=env | {"CASEWORK_WEBHOOK_SECRET": secret},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "casework worker is running" not in done.stdout
        [line] = done.stderr.strip().splitlines()
        assert line.startswith(expected), line
        assert secret == "" or secret not in line, "a secret is never repeated"
    with pytest.raises(SystemExit, match="CASEWORK_WEBHOOK_SUPPORT_QUEUE, CASEWORK_WEBHOOK_SMS are set"):
        delivery_config(settings.replace(webhook_support_queue="http://x", webhook_sms="http://y"))
    with pytest.raises(SystemExit, match="CASEWORK_WEBHOOK_SECRET: must be at least 32 bytes"):
        delivery_config(settings.replace(webhook_support_queue="http://x", webhook_secret="x" * 31))


# -- staff addresses: looked up by name, never made from it ------


def test_a_bad_staff_list_is_one_line_naming_file_entry_and_field(settings: Settings) -> None:
    entry = '[[staff]]\nname = "{}"\nemail = "{}"\n'
    cases = {
        entry.format("li.wei", "attacker@evil.example, li.wei"): "staff.toml: staff.0.email: not an email",
        entry.format("{engineer}", "x@casework.example"): "staff.toml: staff.0.name: ",
        entry.format("a", "a@casework.example") + 'language = "zh CN"\n': "staff.toml: staff.0.language: ",
        entry.format("a", "a@casework.example") * 2: "staff.toml: staff names must be unique: a",
        "[[staff]\n": "staff.toml: not TOML",
    }
    for text, message in cases.items():
        with pytest.raises(StaffFileError) as refused:
            parse_staff(text, "staff.toml")
        assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    missing = settings.replace(staff_file=settings.var_dir / "no-staff.toml")
    with pytest.raises(SystemExit, match=r"no-staff\.toml: cannot read the staff list"):
        delivery_config(missing)


def test_routing_looks_engineers_up_in_the_staff_list() -> None:
    addresses = Addresses(
        support_queue_email="queue@casework.example",
        duty_manager_email="duty@casework.example",
        staff={"li.wei": "li.wei@casework.example"},
    )
    for name, expected in [
        ("li.wei", [Route("email", "li.wei@casework.example")]),
        ("attacker@evil.example, li.wei", [Route("email", "queue@casework.example")]),
        ("mallory", [Route("email", "queue@casework.example")]),
    ]:
        assert routes(engineer_notice("case-1", name), addresses) == expected, name
    hooked = dataclasses.replace(
        addresses, reach={"support_queue": Route("webhook", "https://chat.example/hook")}
    )
    assert routes(engineer_notice("case-1", "{engineer}"), hooked) == [
        Route("webhook", "https://chat.example/hook")
    ]


async def test_a_name_made_of_addresses_reaches_only_the_support_queue(
    settings: Settings, request_id: str
) -> None:
    case_id = f"case-{request_id}"
    notice = engineer_notice(case_id, "attacker@evil.example, li.wei")
    async with deliveries_for(settings) as deliveries:
        await ActivityEnvironment().run(deliveries.deliver_notification, notice)
    [mail] = mails(settings, case_id)
    assert mail["X-Envelope-To"] == "support-queue@casework.example"
    assert mail["To"] == "support-queue@casework.example"
    assert "attacker@evil.example, li.wei" in text_of(mail), "the queue sees who it was meant for"


async def test_engineers_in_the_staff_list_get_follow_ups_at_their_address_others_via_the_queue(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_ids = {}
        for engineer in ("li.wei", "mallory"):
            case_id = (await cases.open(case_request(f"{request_id}-{engineer}", severity="A"))).case.case_id
            for obligation in ("impact_analysis", "reachable_contacts", "contact_data"):
                await cases.act(case_id, Cooperation(request_id=obligation, details="done"))
            await cases.act(case_id, FirstResponse(engineer=engineer, message="Looking"))
            case_ids[engineer] = case_id
        await time_env.sleep(timedelta(hours=2, minutes=1))  # A: a follow-up after 2 h without activity
        for case_id in case_ids.values():
            await delivered(settings, case_id, "/follow_up/")
    [to_li] = mail_for(settings, case_ids["li.wei"], "/follow_up/")
    assert (to_li["X-Envelope-To"], to_li["To"]) == ("li.wei@casework.example", "li.wei@casework.example")
    assert to_li["Content-Language"] == "zh-CN", "the staff list's language for li.wei"
    [to_queue] = mail_for(settings, case_ids["mallory"], "/follow_up/")
    assert to_queue["X-Envelope-To"] == "support-queue@casework.example"
    assert to_queue["Content-Language"] == "en", "the policy's support_language"
    assert not [m for m in mails(settings) if "mallory" in str(m["X-Envelope-To"])]

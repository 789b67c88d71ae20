"""Notifications that reach people: real SMTP (aiosmtpd) and a real webhook receiver, exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryActivities, message_id
from activities.delivery_ledger import DeliveryLedger
from activities.messages import Renderer
from intake.cases import Cases
from service.database import open_database
from service.mail_sink import MailSink, free_port, text_of
from service.settings import PROJECT_ROOT, Settings
from service.worker_runtime import build_worker, delivery_config
from support.actions import FirstResponse
from support.display import local_time
from support.notifications import Audience, Notification
from tests.conftest import running_worker
from tests.deliveries import delivered, ledger, mails
from tests.receivers import WebhookReceiver
from tests.requests import case_request


def mail_for(settings: Settings, case_id: str, fragment: str) -> list[object]:
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
    assert ack["Subject"] == f"[{view.case_id}] {subject}"
    assert ack["Content-Language"] == language
    assert str(ack["Message-ID"]).strip() == message_id(
        f"{view.case_id}/acknowledged/0/customer", "support.casework.example"
    )
    assert ack["Reply-To"] == f"case+{view.case_id}@support.casework.example"
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
                case_request(request_id + "-a", severity="A", contact_email="oncall@contoso.example")
            )
        ).case.case_id
        b = (await cases.open(case_request(request_id + "-b", "fabrikam", severity="B"))).case.case_id
        await cases.respond(b, FirstResponse(engineer="li.wei", message="Looking"))
        ids_a = await delivered(
            settings,
            a,
            "/acknowledged/0/requester",
            "/new_case/0/account_manager",
            "/new_case/0/support_queue",
        )
        ids_b = await delivered(settings, b, "/first_response/0/customer", settle=0.3)
    recipients = {str(m["To"]) for m in mails(settings, a)}
    assert {"oncall@contoso.example", "admin@contoso.example", "am.contoso@casework.example"} <= recipients
    assert any(i.endswith("/new_case/0/support_queue") for i in ids_a)
    assert not [i for i in ids_b if i.endswith("/account_manager")], "account managers hear of A cases only"
    assert not [i for i in ids_b if "/requester" in i], "the requester is the contact: told once"


async def test_smtp_down_then_up_delivers_once_and_the_case_keeps_its_timers(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: object
) -> None:
    port = free_port()
    down = dataclasses.replace(settings, smtp_port=port)
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
    async with WebhookReceiver(script=[500, 503]) as receiver:
        hooked = dataclasses.replace(settings, webhook_support_queue=receiver.url, webhook_secret="s3cret")
        async with running_worker(time_env.client, hooked) as cases:
            view = (await cases.open(case_request(request_id, severity="B", category="billing"))).case
            await time_env.sleep(timedelta(seconds=10))
            await delivered(settings, view.case_id, "/new_case/0/support_queue")
    keys = {r.headers["idempotency-key"] for r in receiver.received}
    assert keys == {f"{view.case_id}/new_case/0/support_queue"}
    assert [r.status for r in receiver.received] == [500, 503, 200]
    for request in receiver.received:
        expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-casework-signature"] == f"sha256={expected}"
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
        hooked = dataclasses.replace(settings, webhook_support_queue=receiver.url)
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
    hanging = StopsAfterFirstAcknowledgement(
        delivery_config(settings),
        DeliveryLedger(open_database(settings)),
        Renderer(PROJECT_ROOT / "templates"),
    )
    cases = Cases(time_env.client, settings.task_queue)
    async with build_worker(
        time_env.client, settings, delivery=hanging, graceful_shutdown=timedelta(seconds=1)
    ):
        view = (await cases.open(case_request(request_id, severity="B"))).case
        for _ in range(200):
            if mail_for(settings, view.case_id, "/acknowledged/0/customer"):
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

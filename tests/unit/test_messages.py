"""Message templates: complete per event and language, the customer's language, times in their zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities
from activities.verification import CodeRequest, VerificationActivities
from adapters.directory_store import DirectoryStore, VerificationFailures
from adapters.messages import Renderer, TemplateError, spoken_duration
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.messaging.notifications import (
    CUSTOMER_TEMPLATES,
    SUPPORT_TEMPLATES,
    Audience,
    DeliveryReceipt,
    Notification,
)

RENDERER = Renderer(PROJECT_ROOT / "templates")
DUE = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)

# Every fact the workflow can attach to a message (see SupportCaseWorkflow._notify and callers).
FACTS = {
    "case_id": "case-r-1",
    "severity": "B",
    "title": "Teams calls drop",
    "category": "technical",
    "tenant_name": "Contoso",
    "requested_severity": "A",
    "severity_reason": "severity A needs a premium support agreement",
    "expected_wait_seconds": "3600",
    "support_open_now": "no",
    "obligations": "confirmation that the case's contact data is accurate",
    "calendar": "product",
    "reason_code": "not_admin",
    "reason": "a reason",
    "code": "123456",
    "valid_for": "10m",
    "engineer": "li.wei",
    "message": "We found the cause.",
    "request_id": "request-1",
    "what": "a network trace",
    "previous_severity": "A",
    "summary": "Codec fixed",
    "clock": "first_response",
    "percent": "50",
    "assignee": "zhang.min",  # assigned (issue 15)
    "previous": "li.wei",
    "sender": "a***@contoso.example",  # customer_replied
    "body": "Here is the trace.",
    "attachments": "- trace.txt (text/plain, 120 bytes)",
    "answered": "request-1",
    "status": "in_progress",
    "details": "Wang Fang, +86 10 5555 0100, 24x7",  # customer_cooperated
    "why": "the analysis names no affected users",  # obligation_asked_again (issue 23)
    "failed_event": "acknowledged",  # notification_failed (issue 28)
    "audience": "customer",
    "server_said": "550 5.1.1 User unknown in local recipient table",
    "description": "OK, 12:00.",  # new_case: the customer's own words
    "requester": "admin@contoso.example",
    "contact_email": "admin@contoso.example",
    "contact_phone": "+8613800138000",
    "preferred_contact": "email",
}
TIMES = {"first_response_due": DUE, "due": DUE, "support_opens_at": DUE, "reopen_until": DUE}


def notification(
    template: str, audience: Audience, language: str, zone: str = "Asia/Shanghai"
) -> Notification:
    return Notification(
        notification_id=f"case-r-1/{template}/0/{audience.value}",
        case_id="case-r-1",
        event=template,
        template=template,
        audience=audience,
        language=language,
        time_zone=zone,
        facts=FACTS,
        times=TIMES,
    )


@pytest.mark.parametrize("language", ["en", "zh-CN", "hu"])
@pytest.mark.parametrize("template", sorted(CUSTOMER_TEMPLATES))
def test_every_customer_template_renders_in_every_customer_language(template: str, language: str) -> None:
    message = RENDERER.render(notification(template, Audience.CUSTOMER, language))
    assert message.language == language
    assert message.subject and "{{" not in message.subject + message.text
    assert message.html.startswith("<!doctype html>")


@pytest.mark.parametrize("language", ["en", "zh-CN", "hu"])
@pytest.mark.parametrize("template", sorted(SUPPORT_TEMPLATES))
def test_every_support_template_renders_in_every_language(template: str, language: str) -> None:
    message = RENDERER.render(notification(template, Audience.SUPPORT_QUEUE, language))
    assert message.language == language and "case-r-1" in message.subject


def test_languages_match_by_tag_then_primary_language_then_english() -> None:
    assert RENDERER.language_for("customer", "zh") == "zh-CN"
    assert RENDERER.language_for("customer", "zh-cn") == "zh-CN"
    assert RENDERER.language_for("customer", "hu-HU") == "hu"
    assert RENDERER.language_for("customer", "fr") == "en"
    assert RENDERER.language_for("support", "hu-HU") == "hu"
    assert RENDERER.language_for("support", "fr") == "en"


def test_chinese_and_hungarian_are_really_translated() -> None:
    zh = RENDERER.render(notification("acknowledged", Audience.CUSTOMER, "zh-CN"))
    hu = RENDERER.render(notification("acknowledged", Audience.CUSTOMER, "hu"))
    assert "我们已收到您的支持请求" in zh.subject and "首次响应截止时间" in zh.text
    assert "Megkaptuk" in hu.subject and "Első válasz határideje" in hu.text


def test_times_are_shown_in_the_recipients_zone_with_the_zone_named() -> None:
    shanghai = RENDERER.render(notification("acknowledged", Audience.CUSTOMER, "en", "Asia/Shanghai"))
    budapest = RENDERER.render(notification("acknowledged", Audience.CUSTOMER, "en", "Europe/Budapest"))
    assert "2026-11-24 23:30:00 CST (Asia/Shanghai)" in shanghai.text
    assert "2026-11-24 16:30:00 CET (Europe/Budapest)" in budapest.text


def test_html_part_is_escaped() -> None:
    n = notification("customer_update", Audience.CUSTOMER, "en")
    n = n.model_copy(update={"facts": FACTS | {"message": "<script>alert(1)</script>"}})
    message = RENDERER.render(n)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<script>" in message.text


def test_a_missing_fact_is_an_error_not_a_gap() -> None:
    n = notification("resolved", Audience.CUSTOMER, "en").model_copy(update={"facts": {"title": "x"}})
    with pytest.raises(TemplateError, match="summary"):
        RENDERER.render(n)


# -- the verification code: how long it is valid, as the policy says, in the reader's language -----


class _Contacts(DirectoryStore):
    def __init__(self) -> None:
        pass

    def registered(self, tenant_id: str, kind: str) -> list[str]:
        return ["it@contoso.example"] if kind == "email" else []


class _Outbox(DeliveryActivities):
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def deliver(self, notification: Notification) -> DeliveryReceipt:
        self.sent.append(notification)
        return DeliveryReceipt(notification_id=notification.notification_id, channel="email", duplicate=False)


class _NoFailures(VerificationFailures):
    def __init__(self) -> None:
        pass


async def verification_message(language: str, policy_path: Path) -> str:
    """The verification code message the activity sends for a case on the policy at `policy_path`."""
    policy = load_policy_snapshot(policy_path, 2026)
    outbox = _Outbox()
    activities = VerificationActivities(_Contacts(), outbox, b"k" * 32, _NoFailures())
    request = CodeRequest(
        case_id="case-r-1",
        tenant_id="contoso",
        language=language,
        valid_for=policy.verification.expires_after,
    )
    await ActivityEnvironment().run(activities.send_verification_code, request)
    (sent,) = outbox.sent
    return RENDERER.render(sent).text


async def test_the_verification_code_is_valid_for_the_policys_time_told_in_the_readers_language(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.toml"
    text = (PROJECT_ROOT / "policy.toml").read_text()
    assert 'expires_after = "10m"' in text
    policy.write_text(text.replace('expires_after = "10m"', 'expires_after = "15m"'))

    english = await verification_message("en", policy)
    chinese = await verification_message("zh-CN", policy)
    hungarian = await verification_message("hu", policy)

    assert "valid for 15 minutes." in english and "Use the most recent code you received." in english
    assert "15 分钟内有效" in chinese and "最新验证码" in chinese
    assert "érvényességi ideje: 15 perc." in hungarian and "legutóbb kapott kódot" in hungarian
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s", english) if re.search(r"[a-z]{3}", s)]
    for translated in (chinese, hungarian):
        assert not [s for s in sentences if s in translated], "no English sentence in a translation"
        assert "minute" not in translated and "10 " not in translated, "the policy's time, not a default"
    assert not re.search(r"[A-Za-z]{2,}", chinese), "no Latin-script word at all in the Chinese message"


def test_durations_are_spelled_out_in_the_readers_language() -> None:
    assert spoken_duration("1h30m", "en") == "1 hour 30 minutes"
    assert spoken_duration("1m", "en") == "1 minute"
    assert spoken_duration("2d", "zh-CN") == "2 天"
    assert spoken_duration("90s", "hu") == "1 perc 30 másodperc"
    assert spoken_duration("45s", "fr") == "45 seconds"

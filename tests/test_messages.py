"""Message templates: complete per event and language, the customer's language, times in their zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.messages import Renderer, TemplateError
from adapters.settings import PROJECT_ROOT
from support.notifications import CUSTOMER_TEMPLATES, SUPPORT_TEMPLATES, Audience, Notification

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
    "note": "Use the most recent code you received.",
    "engineer": "li.wei",
    "message": "We found the cause.",
    "request_id": "request-1",
    "what": "a network trace",
    "previous_severity": "A",
    "summary": "Codec fixed",
    "clock": "first_response",
    "percent": "50",
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


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("template", sorted(SUPPORT_TEMPLATES))
def test_every_support_template_renders_in_english_and_chinese(template: str, language: str) -> None:
    message = RENDERER.render(notification(template, Audience.SUPPORT_QUEUE, language))
    assert message.language == language and "case-r-1" in message.subject


def test_languages_match_by_tag_then_primary_language_then_english() -> None:
    assert RENDERER.language_for("customer", "zh") == "zh-CN"
    assert RENDERER.language_for("customer", "zh-cn") == "zh-CN"
    assert RENDERER.language_for("customer", "hu-HU") == "hu"
    assert RENDERER.language_for("customer", "fr") == "en"
    assert RENDERER.language_for("support", "hu") == "en", "support-side messages have no Hungarian"


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

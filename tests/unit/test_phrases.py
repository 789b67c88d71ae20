"""What a case says in its own words (refusals, severity caps, obligations, downgrade reasons)
reaches every reader in their language: codes with parameters, rendered by the phrase book."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from adapters.messages import Renderer
from adapters.phrases import PhraseBook, PhraseError
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.messaging.notifications import CUSTOMER_TEMPLATES, SUPPORT_TEMPLATES, Audience, Notification
from support.wording.reasons import ASKED, CODES, DUE_BY, NOT_PROVIDED, Reason

BOOK = PhraseBook(PROJECT_ROOT / "templates" / "reasons")
RENDERER = Renderer(PROJECT_ROOT / "templates")
POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
DUE = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
LANGUAGES = ("en", "zh-CN", "hu")

# Parameters of every code, as the case sends them.
PARAMS: dict[str, dict[str, str]] = {
    "unknown_tenant": {"tenant_id": "tailspin"},
    "partner_referral": {"tenant": "Fabrikam", "partner": "Litware", "contact": "support@litware.example"},
    "out_of_scope": {"area": "third_party_addin"},
    "category_cap": {"category": "billing", "severity": "B"},
    "agreement_required": {"severity": "A", "needed": "premium", "agreement": "standard", "lower": "B"},
    DUE_BY: {"obligation": "impact_analysis", "what": POLICY.obligations["impact_analysis"]},
    NOT_PROVIDED: {"obligation": "contact_data", "what": POLICY.obligations["contact_data"]},
    ASKED: {"obligation": "reachable_contacts", "what": POLICY.obligations["reachable_contacts"]},
}
TIMED = {DUE_BY, NOT_PROVIDED}

ENGLISH = re.compile(r"\b(the|your|please|was|not|could|with|our|you|by|in time|case|cases)\b", re.IGNORECASE)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
HUNGARIAN = re.compile(r"[őűŐŰ]|\b(az|ügy|kérjük|nem)\b", re.IGNORECASE)


def reason(code: str) -> Reason:
    return Reason(code=code, params=PARAMS.get(code, {}), times={"due": DUE} if code in TIMED else {})


def foreign(text: str, language: str) -> list[str]:
    """Words of another language than `language` in `text` (ids, names and enum values aside)."""
    found = []
    if language != "en":
        found += ENGLISH.findall(text)
    if language != "zh-CN":
        found += CHINESE.findall(text)
    if language != "hu":
        found += HUNGARIAN.findall(text)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_code_and_every_policy_obligation_has_a_phrase(language: str) -> None:
    for code in sorted(CODES):
        assert BOOK.has(code, language), f"{code} has no phrase in {language}"
    if language != "en":  # in English, an obligation is said in the policy's own words
        for obligation in POLICY.obligations:
            assert BOOK.has(obligation, language), f"obligation {obligation} has no phrase in {language}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("code", sorted(CODES))
def test_every_phrase_is_said_in_its_language_only(code: str, language: str) -> None:
    said = BOOK.said([reason(code)], language, "Europe/Budapest")
    assert said.strip()
    assert not foreign(said, language), (code, language, said)


def test_an_obligation_in_english_is_the_policys_own_words_and_due_in_the_readers_zone() -> None:
    said = BOOK.said([reason(DUE_BY)], "en", "Asia/Shanghai")
    assert said.startswith(POLICY.obligations["impact_analysis"])
    assert "23:30" in said  # 15:30 UTC in Shanghai


def test_a_code_said_nowhere_is_an_error_not_a_gap() -> None:
    with pytest.raises(PhraseError):
        BOOK.said([Reason(code="no_such_code")], "hu", "UTC")


def notification(template: str, audience: Audience, language: str) -> Notification:
    every = [reason(code) for code in sorted(CODES)]
    return Notification(
        notification_id=f"case-r-1/{template}/0/{audience.value}",
        case_id="case-r-1",
        event=template,
        template=template,
        audience=audience,
        language=language,
        time_zone="Europe/Budapest",
        facts={
            "case_id": "case-r-1",
            "severity": "B",
            "title": "Teams",
            "category": "technical",
            "tenant_name": "Contoso",
            "requested_severity": "A",
            "expected_wait_seconds": "3600",
            "support_open_now": "no",
            "calendar": "product",
            "reason_code": "not_admin",
            "code": "123456",
            "valid_for": "10m",
            "engineer": "li.wei",
            "message": "OK",
            "request_id": "request-1",
            "previous_severity": "A",
            "summary": "OK",
            "clock": "first_response",
            "percent": "50",
            "assignee": "zhang.min",  # assigned (issue 15)
            "previous": "li.wei",
            "sender": "a***@contoso.example",  # customer_replied
            "body": "OK, 12:00.",  # the customer's own words, in any language
            "attachments": "- trace.txt (text/plain, 120 bytes)",
            "answered": "request-1",
            "status": "in_progress",
            "details": "OK, 12:00.",  # customer_cooperated: the customer's own words
            "why": "OK, 12:00.",  # obligation_asked_again: the engineer's own words (issue 23)
            "failed_event": "acknowledged",  # notification_failed (issue 28)
            "audience": "customer",
            "server_said": "OK, 12:00.",  # the mail server's own words
            "description": "OK, 12:00.",  # new_case: the customer's own words
            "requester": "admin@contoso.example",
            "contact_email": "admin@contoso.example",
            "contact_phone": "+8613800138000",
            "preferred_contact": "email",
        },
        times={"first_response_due": DUE, "due": DUE, "support_opens_at": DUE, "reopen_until": DUE},
        reasons={"reason": every, "severity_reason": every, "obligations": every, "what": every},
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(CUSTOMER_TEMPLATES))
def test_every_customer_message_is_in_the_customers_language_only(template: str, language: str) -> None:
    message = RENDERER.render(notification(template, Audience.CUSTOMER, language))
    assert not foreign((message.subject + "\n" + message.text).replace("case-r-1", ""), language), (
        message.text
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("template", sorted(SUPPORT_TEMPLATES))
def test_every_support_message_is_in_the_readers_language_only(template: str, language: str) -> None:
    message = RENDERER.render(notification(template, Audience.SUPPORT_QUEUE, language))
    assert not foreign((message.subject + "\n" + message.text).replace("case-r-1", ""), language), (
        message.text
    )

"""The expected first-response wait as pure rules (support/sla_clocks/expected_wait.py): the panel's answer is
the terms a case opened at that instant gets, on the right calendar, capped as a case is."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.identity.tenant import PurchaseChannel, TenantProfile
from support.policies.vocabulary import Agreement, Category, Severity
from support.rules.case_terms import case_terms
from support.sla_clocks.expected_wait import expected_wait

POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
SHANGHAI = ZoneInfo("Asia/Shanghai")
PREMIUM = TenantProfile(name="Contoso", agreement=Agreement.PREMIUM)
STANDARD = TenantProfile(name="Fabrikam", time_zone="Europe/Budapest")


def at(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_severity_a_is_one_hour_around_the_clock() -> None:
    now = at("2026-11-28T03:00")  # a Saturday night: the 24x7 calendar is open
    wait = expected_wait(POLICY, "contoso", PREMIUM, Category.TECHNICAL, Severity.A, now)
    assert wait.severity is Severity.A and wait.severity_caps == []
    assert wait.expected_wait_seconds == 3600
    assert wait.first_response_due == now + timedelta(hours=1)
    assert wait.support_open_now and wait.support_opens_at == now
    assert wait.calendar == "always" and wait.first_response_target == "1h"


def test_a_without_premium_agreement_is_b_with_the_reason() -> None:
    now = at("2026-11-24T10:00")
    wait = expected_wait(POLICY, "fabrikam", STANDARD, Category.TECHNICAL, Severity.A, now)
    assert wait.requested_severity is Severity.A and wait.severity is Severity.B
    assert [cap.code for cap in wait.severity_caps] == ["agreement_required"]
    # one business day of 15 h on the 09:00-24:00 product calendar: 14 h today, 1 h tomorrow
    assert wait.first_response_due == at("2026-11-25T10:00")
    assert wait.expected_wait_seconds == 24 * 3600


def test_closed_product_calendar_waits_for_opening() -> None:
    now = at("2026-11-24T02:00")
    wait = expected_wait(POLICY, "contoso", PREMIUM, Category.TECHNICAL, Severity.B, now)
    assert not wait.support_open_now
    assert wait.support_opens_at == at("2026-11-24T09:00")
    assert wait.first_response_due == at("2026-11-25T00:00")  # 09:00 + 15 h
    assert wait.expected_wait_seconds == 22 * 3600


def test_billing_is_at_most_b_on_weekday_hours() -> None:
    now = at("2026-11-28T11:00")  # Saturday: billing works Mon-Fri 09:00-18:00
    wait = expected_wait(POLICY, "contoso", PREMIUM, Category.BILLING, Severity.A, now)
    assert wait.severity is Severity.B
    assert [cap.code for cap in wait.severity_caps] == ["category_cap"]
    assert wait.calendar == "billing" and not wait.support_open_now
    assert wait.support_opens_at == at("2026-11-30T09:00")
    assert wait.first_response_due == at("2026-11-30T18:00")  # one business day of 9 h


def test_presales_runs_in_the_tenants_zone() -> None:
    budapest = ZoneInfo("Europe/Budapest")
    now = at("2026-11-24T08:30", budapest)
    wait = expected_wait(POLICY, "fabrikam", STANDARD, Category.PRESALES, Severity.C, now)
    assert wait.time_zone == "Europe/Budapest"
    assert not wait.support_open_now and wait.support_opens_at == at("2026-11-24T09:00", budapest)


def test_the_panel_says_what_a_case_gets() -> None:
    now = at("2026-11-24T23:30")
    for category in Category:
        for severity in Severity:
            wait = expected_wait(POLICY, "fabrikam", STANDARD, category, severity, now)
            terms = case_terms(POLICY, category, severity, Agreement.STANDARD, "Europe/Budapest", now)
            assert wait.first_response_due == terms.first_response.due
            assert wait.severity is terms.decision.granted
            assert wait.expected_wait_seconds == int((terms.first_response.due - now).total_seconds())


def test_partner_tenant_is_referred() -> None:
    partner = TenantProfile(name="Northwind", purchase_channel=PurchaseChannel.PARTNER, partner_name="Adatum")
    wait = expected_wait(POLICY, "northwind", partner, Category.TECHNICAL, Severity.C, at("2026-11-24T10:00"))
    assert wait.referred_to_partner == "Adatum"


def test_acknowledgement_says_the_expected_wait_in_each_language() -> None:
    from support.messaging.notifications import Audience
    from tests.unit.test_messages import RENDERER, notification

    said = {
        "en": "Expected wait for the first response: 1 hour",
        "zh-CN": "预计首次响应等待时间\uff1a1 小时",
        "hu": "Várható várakozás az első válaszig: 1 óra",
    }
    for language, line in said.items():
        message = RENDERER.render(notification("acknowledged", Audience.CUSTOMER, language))
        assert line in message.text, message.text

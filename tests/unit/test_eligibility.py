"""Who may open a case (pure rules), and the one-time code helpers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from support.identity.tenant import PurchaseChannel, TenantFacts
from support.identity.verification import IssuedCode, code_matches, hash_code, mask
from support.policies.vocabulary import Agreement
from support.rules.eligibility import check_eligibility
from tests.requests import case_request

DIRECT = TenantFacts(tenant_id="contoso", name="Contoso", agreement=Agreement.PREMIUM)
PARTNER = TenantFacts(
    tenant_id="northwind",
    name="Northwind Traders",
    purchase_channel=PurchaseChannel.PARTNER,
    partner_name="Litware Partners",
    partner_contact="support@litware.example",
)
MIXED = TenantFacts(tenant_id="tailspin", name="Tailspin", purchase_channel=PurchaseChannel.MIXED)


def test_an_admin_of_a_direct_tenant_may_open_a_product_case() -> None:
    assert check_eligibility(case_request("r1"), DIRECT, requester_is_admin=True) is None


def test_unknown_tenant() -> None:
    refusal = check_eligibility(case_request("r1", "nobody"), None, requester_is_admin=False)
    assert refusal is not None and refusal.code == "unknown_tenant"


def test_only_administrators_may_open_cases() -> None:
    refusal = check_eligibility(case_request("r1"), DIRECT, requester_is_admin=False)
    assert refusal is not None and refusal.code == "not_admin"
    assert "administrator" in refusal.message and "community forums" in refusal.message


def test_all_partner_tenant_is_referred_to_its_partner() -> None:
    refusal = check_eligibility(case_request("r1", "northwind"), PARTNER, requester_is_admin=True)
    assert refusal is not None and refusal.code == "partner_referral"
    assert (refusal.referral_partner, refusal.referral_contact) == (
        "Litware Partners",
        "support@litware.example",
    )
    assert "Litware Partners" in refusal.message and "support@litware.example" in refusal.message


def test_a_tenant_with_some_direct_subscriptions_is_served() -> None:
    assert check_eligibility(case_request("r1", "tailspin"), MIXED, requester_is_admin=True) is None


@pytest.mark.parametrize(
    ("scope", "words"), [("third_party_addin", "vendor"), ("customer_network", "network")]
)
def test_out_of_scope_is_decided_from_the_scope_field(scope: str, words: str) -> None:
    refusal = check_eligibility(case_request("r1", scope=scope), DIRECT, requester_is_admin=True)
    assert refusal is not None and refusal.code == "out_of_scope" and words in refusal.message


def test_free_text_mentioning_an_add_in_does_not_decide_scope() -> None:
    request = case_request("r1", description="Outlook crashes; we also use a third-party add-in")
    assert check_eligibility(request, DIRECT, requester_is_admin=True) is None


def test_rules_are_checked_in_order_admin_before_partner() -> None:
    refusal = check_eligibility(case_request("r1", "northwind"), PARTNER, requester_is_admin=False)
    assert refusal is not None and refusal.code == "not_admin"


def test_code_hash_is_salted_and_checks_in_constant_form() -> None:
    salt = bytes(range(16))
    issued = IssuedCode(
        salt_hex=salt.hex(),
        code_hash_hex=hash_code("123456", salt),
        sent_to="i***@x.example",
        issued_at=datetime.now(UTC),
    )
    assert code_matches("123456", issued) and not code_matches("123457", issued)
    assert hash_code("123456", salt) != hash_code("123456", bytes(16)), "salt changes the hash"
    assert "123456" not in issued.model_dump_json()


def test_mask_keeps_only_enough_to_recognise() -> None:
    assert mask("it-desk@contoso.example") == "i***@contoso.example"
    assert mask("+862155550100") == "+86******0100"

"""The customer portal's pure rules (issue 24): the survey link's token (signed, expiring, bound to the
case, the addressee and the survey round; a changed one is refused), the survey mail that carries
it, what a customer is promised (and nothing of the SLA's mechanics), and the portal's phrase book."""

from __future__ import annotations

import base64
import json
import re
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.survey_mail import with_survey_link
from adapters.settings import PROJECT_ROOT
from interfaces.console.i18n import LANGUAGES
from support.case.actions import Assignment, CustomerActionRequest, FirstResponse, Resolution
from support.case.customer_view import customer_view
from support.messaging.notifications import Audience, Notification
from support.messaging.survey_links import (
    LinkProblem,
    SurveyClaim,
    addressee_digest,
    link_for,
    read,
    sign,
    survey_key,
)
from support.rules.customer_promises import Promise, promise_of
from tests.case_driver import Driver
from tests.requests import case_request
from tests.unit.test_language import portal_page
from tests.unit.test_names import NAMED, STAFF, worked

KEY = survey_key(b"x" * 32)
SENT = datetime(2026, 12, 6, 12, 0, 0, 123000, tzinfo=UTC)
ENDS = SENT + timedelta(days=7)
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_a_link_reads_back_its_claim_until_the_survey_ends() -> None:
    link = link_for("https://support.example/", "case-contoso.r1", "Admin@Contoso.example", SENT, ENDS, KEY)
    assert link.startswith("https://support.example/console/survey/")
    claim = read(token_of(link), KEY, SENT + timedelta(days=1))
    assert isinstance(claim, SurveyClaim) and claim.case_id == "case-contoso.r1"
    assert claim.for_round(SENT) and not claim.for_round(SENT + timedelta(seconds=1))
    assert claim.addressee == addressee_digest("admin@contoso.example", KEY), "case-folded"
    assert (
        "contoso.example" not in token_of(link).lower()
        and "admin" not in base64.urlsafe_b64decode(token_of(link).split(".")[0] + "==").decode()
    ), "the address never travels in the link"
    assert read(token_of(link), KEY, ENDS) is LinkProblem.EXPIRED
    assert read(token_of(link), KEY, ENDS + timedelta(days=30)) is LinkProblem.EXPIRED


def test_a_changed_or_foreign_token_is_refused_before_it_is_read() -> None:
    token = token_of(link_for("http://h", "case-contoso.r1", "a@b.example", SENT, ENDS, KEY))
    data, mac = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    for other in ({"c": "case-fabrikam.r1"}, {"e": body["e"] + 86400 * 365}, {"r": body["r"] + 1}):
        forged = sign(_claim(body | other), survey_key(b"y" * 32))
        assert read(forged, KEY, SENT) is LinkProblem.TAMPERED, other
        moved = base64.urlsafe_b64encode(json.dumps(body | other).encode()).decode().rstrip("=")
        assert read(f"{moved}.{mac}", KEY, SENT) is LinkProblem.TAMPERED, other
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for bad in (flipped, token[:-3], "", "x" * 5000, "a.b", token + "." + mac, "../../etc/passwd"):
        assert read(bad, KEY, SENT) is LinkProblem.TAMPERED, bad
    unkeyed = sign(_claim(body), b"")
    assert read(unkeyed, b"", SENT) is LinkProblem.TAMPERED, "without a key no link counts"


def _claim(body: dict[str, Any]) -> SurveyClaim:
    return SurveyClaim(case_id=body["c"], addressee=body["a"], round=body["r"], expires=body["e"])


class Config:
    public_url = "https://support.example"
    survey_key = KEY


def notification(
    template: str, audience: Audience = Audience.CUSTOMER, times: dict[str, datetime] | None = None
) -> Notification:
    return Notification(
        notification_id=f"case-contoso.r1/{template}/0/{audience.value}",
        case_id="case-contoso.r1",
        event=template,
        template=template,
        audience=audience,
        time_zone="Asia/Shanghai",
        to_email="admin@contoso.example",
        times=times or {},
    )


def test_only_the_customers_survey_mails_of_a_known_round_carry_a_link() -> None:
    times = {"survey_sent": SENT, "survey_expires": ENDS}
    for template in ("survey", "survey_reminder"):
        link = with_survey_link(notification(template, times=times), Config).facts["survey_link"]
        claim = read(token_of(link), KEY, SENT)
        assert (
            isinstance(claim, SurveyClaim)
            and claim.for_round(SENT)
            and claim.expires == int(ENDS.timestamp())
        )
    assert "survey_link" not in with_survey_link(notification("resolved", times=times), Config).facts
    staff = notification("survey", Audience.SUPPORT_QUEUE, times)
    assert "survey_link" not in with_survey_link(staff, Config).facts
    assert "survey_link" not in with_survey_link(notification("survey"), Config).facts, "closed before links"

    class Unset(Config):
        public_url = ""

    assert "survey_link" not in with_survey_link(notification("survey", times=times), Unset).facts


def test_the_customer_is_promised_answer_times_and_what_support_waits_for() -> None:
    driver = Driver(case_request("promise-1"), T0)
    promise = promise_of(driver.view, T0)
    assert promise.promise is Promise.FIRST_ANSWER and promise.due == driver.view.first_response.due  # type: ignore[union-attr]
    assert [q.request_id for q in promise.obligations] == [
        "impact_analysis",
        "reachable_contacts",
        "contact_data",
    ]
    assert promise.may_withdraw and not promise.may_reopen and not promise.survey_open
    driver.act(FirstResponse(engineer=NAMED, message="Looking."))
    driver.act(CustomerActionRequest(engineer=NAMED, what="the SMTP logs of Monday"))
    promise = promise_of(driver.view, T0)
    assert promise.promise is Promise.WAITING_FOR_YOU and [q.what for q in promise.asked] == [
        "the SMTP logs of Monday"
    ]
    driver.act(Resolution(engineer=NAMED, summary="Fixed the connector."))
    resolved = promise_of(driver.view, driver.now)
    assert resolved.promise is Promise.RESOLVED and resolved.may_reopen and not resolved.may_withdraw
    assert resolved.due == driver.view.reopen_until
    assert driver.view.reopen_until is not None
    late = promise_of(driver.view, driver.view.reopen_until)
    assert not late.may_reopen and late.due is None, "the window is over: no reopen offered"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_customers_page_shows_no_sla_mechanics_and_no_staff_names(language: str) -> None:
    worked_through = worked(NAMED, language, f"mechanics-{language}")
    names = STAFF.names(worked_through.case.rules.routing.support_name)
    working = Driver(case_request(f"mechanics-open-{language}", language=language), T0)
    working.act(Assignment(engineer=NAMED, assignee=NAMED, reason="on duty"))
    working.act(FirstResponse(engineer=NAMED, message="Looking."))
    for driver in (worked_through, working):
        view = customer_view(driver.view, names)
        page = portal_page(
            language,
            "portal_case.html",
            view=view,
            live=True,
            promise=promise_of(view, T0),
            messages=[],
            comment_id="c1",
            done="",
        )
        assert NAMED not in page, "staff are never named to the customer"
        assert "%" not in page and "<svg" not in page and 'class="legend"' not in page, (
            "no warnings or pauses"
        )
        assert "request_id" not in page.replace('name="request_id"', ""), "no typed request id"
    assert page.count('type="checkbox" name="ob-') == 3, "the obligations are checkboxes"


def test_the_portal_phrase_book_has_every_key_in_every_language() -> None:
    books = {
        language: tomllib.loads((PROJECT_ROOT / "templates/portal/strings" / f"{language}.toml").read_text())
        for language in LANGUAGES
    }
    assert all(set(book) == set(books["en"]) for book in books.values())
    used = set()
    for name in ("portal_case.html", "portal_requests.html", "survey_link.html"):
        text = (PROJECT_ROOT / "templates/console" / name).read_text()
        used |= set(re.findall(r'\bp\("([a-z_]+)"\)', text))
    assert used - set(books["en"]) == set(), used - set(books["en"])

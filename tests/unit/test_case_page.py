"""The console's case page parts, pure: the actions a case takes now (asked of its own `refusal`),
the assignee picker (the staff who work the tenant, not the holder), the canned replies file (a
fault is one line naming the file and the field), and the clock bars drawn from the SLA ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.canned_replies import RepliesFileError, RepliesSource, parse_replies_file
from adapters.staff import StaffFileError, parse_staff
from application.actions import CASE_ACTIONS
from application.ledgers import ledger_phrases
from interfaces.console.case_page import candidates, obligation_words, offers_of, reply_choices
from interfaces.console.ledger_bars import BAR_WIDTH, ledger_bars
from support.case.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    FirstResponse,
    ObligationAcceptance,
    ObligationAskedAgain,
    Resolution,
    SeverityChangeRequest,
)
from support.case.actions_now import taken_now
from support.identity.access import Principal, Role
from support.policies.vocabulary import Severity
from support.sla_clocks.explain import explain
from support.sla_clocks.ledger import SlaBasis, case_ledger
from tests.case_driver import Driver
from tests.requests import case_request
from tests.unit.test_language import foreign, reading

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)  # a Tuesday morning in Shanghai
AGENT = Principal(name="li.wei", role=Role.AGENT)
PORTAL = Principal(name="contoso-portal", role=Role.PORTAL, tenants=("contoso",))
STAFF = ["li.wei", "zhang.min"]
REPLIES = Path(__file__).resolve().parents[2] / "replies.toml"


def basis(driver: Driver) -> SlaBasis:
    case = driver.case
    return SlaBasis(
        view=case.view, policy=case.policy, tenant_time_zone=case.facts.time_zone, tenant=case.tenant
    )


def offered(driver: Driver, principal: Principal) -> dict[str, tuple[str, ...]]:
    """Action name -> the choices the case takes (() for an action without choices)."""
    actions = [a for a in CASE_ACTIONS if principal.allows(a.permission)]
    taken = taken_now(basis(driver), candidates(actions, driver.view, principal, STAFF), driver.now)
    result = {}
    for action, fields in offers_of(actions, taken):
        chosen = [f.choices for f in fields if f.name in ("assignee", "severity", "request_id")]
        result[action.name] = chosen[0] if chosen else ()
    return result


def test_a_new_case_offers_the_first_response_not_an_update_and_every_other_severity() -> None:
    driver = Driver(case_request("page-new", severity="B"), T0)
    agent = offered(driver, AGENT)
    assert "respond" in agent and "resolve" in agent and "note" in agent
    assert "update" not in agent and "ask" not in agent, "the first response comes first"
    assert "B" not in agent["severity"] and "C" in agent["severity"]
    assert agent["assign"] == ("li.wei", "zhang.min")
    assert set(offered(driver, PORTAL)) == {"withdraw", "cooperate"}, "no survey, no reopen yet"


def test_the_holder_is_not_offered_and_an_answered_case_takes_updates_not_a_first_response() -> None:
    driver = Driver(case_request("page-held", severity="B"), T0)
    driver.act(Assignment(engineer="li.wei", assignee="li.wei", reason="mine now"))
    driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
    agent = offered(driver, AGENT)
    assert agent["assign"] == ("zhang.min",)
    assert "respond" not in agent and "update" in agent and "ask" in agent


def test_a_resolved_case_offers_the_engineer_a_note_and_the_customer_reopen() -> None:
    driver = Driver(case_request("page-resolved", severity="B"), T0)
    driver.act(Resolution(engineer="li.wei", summary="Fixed the connector"))
    assert set(offered(driver, AGENT)) == {"note"}
    assert set(offered(driver, PORTAL)) == {"reopen"}
    driver.advance(timedelta(days=30))  # the reopen window over, the survey out
    assert "reopen" not in offered(driver, PORTAL)


def test_a_case_not_yet_opened_takes_nothing() -> None:
    driver = Driver(case_request("page-unopened", severity="B"), T0)
    bare = SlaBasis(view=driver.view, policy=None, tenant_time_zone=None)
    assert taken_now(bare, candidates(list(CASE_ACTIONS), driver.view, AGENT, STAFF), driver.now) == {}


def test_obligations_are_offered_by_name_only_when_the_case_takes_them() -> None:
    driver = Driver(case_request("page-obligations", severity="A"), T0)
    outstanding = [q.request_id for q in driver.view.customer_requests if q.kind.value == "obligation"]
    assert outstanding, "severity A asks the customer for its obligations"
    agent = offered(driver, AGENT)
    assert set(agent["accept_obligation"]) == set(outstanding)
    assert "ask_obligation_again" not in agent, "nothing answered yet to ask again for"


def test_a_clock_that_started_a_moment_ago_fills_its_bar() -> None:
    driver = Driver(case_request("page-moment", severity="B"), T0)
    driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
    driver.advance(timedelta(milliseconds=200))
    ledger = case_ledger(driver.view, driver.case.rules, driver.case.facts.time_zone, driver.now)
    update = next(
        b for b in ledger_bars(ledger, ledger_phrases("en"), "UTC") if b.key == "clock-customer_update"
    )
    assert sum(p.width for p in update.pieces) == BAR_WIDTH


def test_the_team_rule_of_the_staff_list() -> None:
    staff = parse_staff(
        '[[staff]]\nname = "a.b"\nemail = "a@x.example"\n'
        '[[staff]]\nname = "c.d"\nemail = "c@x.example"\ntenants = ["fabrikam"]\n',
        "staff.toml",
    )
    assert staff.who_may_work("contoso") == ["a.b"]
    assert staff.who_may_work("fabrikam") == ["a.b", "c.d"]
    with pytest.raises(
        StaffFileError, match=r"staff\.toml: staff\.0\.tenants: 'Not A Tenant' is not a tenant id"
    ):
        parse_staff(
            '[[staff]]\nname = "a.b"\nemail = "a@x.example"\ntenants = ["Not A Tenant"]\n', "staff.toml"
        )


def test_the_replies_file_is_checked_with_one_line_naming_the_file_and_field() -> None:
    replies = parse_replies_file(REPLIES.read_text(encoding="utf-8"), "replies.toml")
    assert [r.id for r in replies.replies] == ["looking-into-it", "need-logs", "fix-deployed"]
    missing = '[[replies]]\nid = "x"\n[replies.text]\nen = "Hello"\nzh-CN = "你好"\n'
    with pytest.raises(RepliesFileError) as error:
        parse_replies_file(missing, "replies.toml")
    assert str(error.value) == "replies.toml: replies.0.text: needs a text in hu"
    twice = '[[replies]]\nid = "x"\ntext = {en = "a", zh-CN = "b", hu = "c"}\n' * 2
    with pytest.raises(RepliesFileError, match=r"^replies\.toml: .*replies\[1\]\.id: 'x' is used twice$"):
        parse_replies_file(twice, "replies.toml")
    with pytest.raises(RepliesFileError, match=r"^replies\.toml: replies\.0\.id: "):
        parse_replies_file(
            '[[replies]]\nid = "Bad Id"\ntext = {en = "a", zh-CN = "b", hu = "c"}\n', "replies.toml"
        )
    with pytest.raises(RepliesFileError, match=r"^replies\.toml: not TOML"):
        parse_replies_file("[[replies", "replies.toml")


def test_replies_are_read_again_when_the_file_changes_and_a_bad_one_is_said(tmp_path: Path) -> None:
    path = tmp_path / "replies.toml"
    source = RepliesSource(path)
    assert source().replies == [], "no file: no replies"
    path.write_text(
        '[[replies]]\nid = "hi"\ntext = {en = "Hello", zh-CN = "您好", hu = "Jó napot"}\n', "utf-8"
    )
    choices, problem = reply_choices(source, "hu", "zh-CN")
    assert problem == "" and [(c.id, c.label, c.text) for c in choices] == [("hi", "Jó napot", "您好")]
    path.write_text('[[replies]]\nid = "hi"\ntext = {en = "Hello!"}\n', "utf-8")
    choices, problem = reply_choices(source, "en", "en")
    assert choices == [] and problem == "replies.toml: replies.0.text: needs a text in zh-CN, hu"


@pytest.mark.parametrize("language", ["en", "zh-CN", "hu"])
def test_the_clock_bar_is_drawn_from_the_ledger_with_the_accounts_words(language: str) -> None:
    driver = Driver(case_request("page-bar", severity="B"), T0)
    driver.advance(timedelta(minutes=40))
    driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
    driver.act(CustomerActionRequest(engineer="li.wei", what="the message trace", pauses_clock=True))
    driver.advance(timedelta(hours=2))  # paused while the customer looks for it
    now = case_ledger(driver.view, driver.case.rules, driver.case.facts.time_zone, driver.now)
    drawn_now = ledger_bars(now, ledger_phrases(language), "Asia/Shanghai")
    paused = next(b for b in drawn_now if b.key == "clock-customer_update")
    assert paused.clock.state == "paused"
    assert paused.pieces[-1].kind == "paused_awaiting_customer", "paused until now"
    assert paused.pieces[-1].x + paused.pieces[-1].width == BAR_WIDTH
    driver.act(Cooperation(request_id="request-1", details="trace attached"))
    driver.advance(timedelta(hours=10))  # past the end of the day: running, then closed hours
    ledger = case_ledger(driver.view, driver.case.rules, driver.case.facts.time_zone, driver.now)
    r = reading(language, "Asia/Shanghai")
    bars = ledger_bars(ledger, ledger_phrases(language), "Asia/Shanghai")
    first = next(b for b in bars if b.key == "clock-first_response")
    assert first.clock.state == "met" and [p.kind for p in first.pieces] == ["running"]
    assert first.pieces[0].x == 0 and first.pieces[0].width == BAR_WIDTH
    update = next(b for b in bars if b.key == "clock-customer_update")
    assert "paused_awaiting_customer" in update.kinds
    for before, after in zip(update.pieces, update.pieces[1:], strict=False):
        assert before.x <= after.x, "in time order"
    assert update.pieces[-1].x + update.pieces[-1].width == BAR_WIDTH
    account = explain(ledger, ledger_phrases(language), "Asia/Shanghai").splitlines()
    colon = ledger_phrases(language)["colon"]  # the full-width colon after Chinese
    assert any(line.endswith(colon + first.caption) for line in account), (first.caption, account)
    assert any(line.endswith(colon + update.caption) for line in account), (update.caption, account)
    for caption in (first.caption, update.caption):
        assert not foreign(caption, language), foreign(caption, language)
    assert r.term("segment_kinds", "paused_awaiting_customer") != "paused_awaiting_customer"


def refusals_the_rules_give() -> tuple[list[str], dict[str, str]]:
    """Refusals as the case's own rules word them (not copied here), and the obligations' words."""
    driver = Driver(case_request("page-refusals", category="billing", severity="B"), T0)
    driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
    for n in range(10):
        driver.act(CustomerActionRequest(engineer="li.wei", what=f"the log number {n}", pauses_clock=False))
    said = [driver.refusal(CustomerActionRequest(engineer="li.wei", what="one more", pauses_clock=False))]
    driver.act(Cooperation(request_id="request-1", details="log attached"))
    driver.act(ObligationAcceptance(engineer="li.wei", request_id="contact_data"))
    said += [
        driver.refusal(SeverityChangeRequest(engineer="li.wei", severity=Severity.A, reason="it is urgent")),
        driver.refusal(ObligationAcceptance(engineer="li.wei", request_id="impact_analysis")),
        driver.refusal(ObligationAcceptance(engineer="li.wei", request_id="contact_data")),
        driver.refusal(Cooperation(request_id="request-99", details="here")),
        driver.refusal(Cooperation(request_id="request-1", details="again")),
    ]
    fresh = Driver(case_request("page-refusals-a", severity="A"), T0)
    said.append(
        fresh.refusal(
            ObligationAskedAgain(engineer="li.wei", request_id="contact_data", reason="again please")
        )
    )
    words = obligation_words(driver.view) | obligation_words(fresh.view)  # as the page gives them
    return [s for s in said if s is not None], words


@pytest.mark.parametrize("language", ["en", "zh-CN", "hu"])
def test_the_rules_refusals_are_said_in_the_readers_words_and_zone(language: str) -> None:
    said, words = refusals_the_rules_give()
    assert len(said) == 7, said
    r = reading(language, "Asia/Shanghai")
    for text in said:
        shown = r.refusal(text, words)
        assert shown != text and not foreign(shown, language), (text, shown)
        assert "+00:00" not in shown and "contact_data" not in shown, shown
    assert r.field_error("not on the staff list") != "not on the staff list" or language == "en"

"""The SLA ledger of cases run on the time-skipping server (never sleeping) across a weekend, a PRC
holiday and a make-up workday, with a pause and a downgrade: `explain` and the ledger agree with an
account computed by hand, and the ledger from the replayed history equals the live one.

The server starts at the real clock, so the test's calendar is written relative to it: the next
Friday F, the Monday after it a holiday, the Saturday F+8 a make-up workday (as the PRC calendar
has them), on policy.toml's billing calendar (09:00-18:00 weekdays, a business day of 9 h)."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from adapters.settings import PROJECT_ROOT, Settings
from application.cases import Cases
from application.ledgers import LANGUAGES, explained, read_ledger
from interfaces.cli.history import fetch_runs, sla_basis_from_history
from support.case.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
)
from support.identity.access import CLI_OPERATOR, Principal, Role
from support.policies.vocabulary import Severity
from support.sla_clocks.explain import PHRASES
from support.sla_clocks.ledger import SegmentKind, ledger_of
from tests.conftest import case_clock, running_worker
from tests.requests import case_request

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0


def policy_with_days(tmp_path: Path, holiday: str, make_up: str) -> Path:
    text = (PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith('holiday_country = "CN"'))
    path = tmp_path / "policy.toml"
    path.write_text(
        text.replace(line, f'holidays = ["{holiday}"]\noverrides = {{ "{make_up}" = ["09:00-18:00"] }}'),
        encoding="utf-8",
    )
    return path


def near(seconds: float | None, expected: float) -> bool:
    """Equal to the second: each action lands a few milliseconds after the instant skipped to."""
    return seconds is not None and abs(seconds - expected) < 1


async def skip_to(env: WorkflowEnvironment, instant: datetime) -> None:
    now = await env.get_current_time()
    assert instant > now, (instant, now)
    await env.sleep(instant - now)


def test_every_phrase_book_has_every_phrase() -> None:
    for language in LANGUAGES:
        path = PROJECT_ROOT / "templates" / "ledger" / f"{language}.toml"
        with path.open("rb") as file:
            assert set(tomllib.load(file)) == PHRASES, language


async def test_ledgers_across_a_weekend_a_holiday_and_a_make_up_day_equal_their_replay(
    time_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    now = (await time_env.get_current_time()).astimezone(SHANGHAI)
    soon = now + timedelta(days=2)
    friday = (soon + timedelta(days=(4 - soon.weekday()) % 7)).replace(
        hour=17, minute=0, second=0, microsecond=0
    )
    assert friday.weekday() == 4

    def at(days: int, hour: int, minute: int = 0) -> datetime:
        return (friday + timedelta(days=days)).replace(hour=hour, minute=minute)

    monday, saturday_after = at(3, 0).date(), at(8, 0).date()
    settings = settings.replace(
        policy_path=policy_with_days(tmp_path, monday.isoformat(), saturday_after.isoformat())
    )
    async with running_worker(time_env.client, settings) as worker_cases:
        cases = Cases(
            time_env.client,
            settings.task_queue,
            staff=worker_cases.staff,
            case_clock=case_clock(time_env.client),
        )
        # Case 1: opened Friday 17:00, the weekend and the Monday holiday, answered Tuesday 17:14.
        await skip_to(time_env, friday)
        first = (await cases.open(case_request("ledger-1", category="billing", severity="B"))).case
        one = first.case_id
        await cases.act(one, Cooperation(request_id="contact_data", details="confirmed"))
        await cases.act(one, Assignment(engineer="li.wei", assignee="zhang.min", reason="billing desk"))
        await skip_to(time_env, at(4, 17, 14))
        await cases.act(one, FirstResponse(engineer="zhang.min", message="Found it"))
        await skip_to(time_env, at(5, 9, 30))
        await cases.act(
            one, CustomerActionRequest(engineer="zhang.min", what="Send the invoice log", pauses_clock=True)
        )
        await skip_to(time_env, at(5, 12, 40))
        await cases.act(one, Cooperation(request_id="request-1", details="attached"))
        await skip_to(time_env, at(5, 14, 0))
        await cases.act(one, CustomerUpdate(engineer="zhang.min", message="Fixing"))

        # Case 2: opened the next Friday 17:00; Saturday is a make-up workday; contact data never
        # comes, so B is downgraded to C when its business day runs out (Saturday 17:00).
        await skip_to(time_env, at(7, 17))
        two = (await cases.open(case_request("ledger-2", category="billing", severity="B"))).case.case_id
        await skip_to(time_env, at(8, 10))
        await cases.act(two, FirstResponse(engineer="li.wei", message="Looking"))
        await skip_to(time_env, at(10, 10))
        await cases.act(two, CustomerUpdate(engineer="li.wei", message="Still on it"))
        await skip_to(time_env, at(10, 10, 1))

        read_at = await time_env.get_current_time()  # live and replayed ledgers read at one instant
        live = {c: await read_ledger(cases, c, CLI_OPERATOR, read_at) for c in (one, two)}
        accounts = {c: explained(live[c], "en") for c in (one, two)}
        replayed = {}
        for case_id in (one, two):
            basis = await sla_basis_from_history(
                await fetch_runs(time_env.client, case_id), pydantic_data_converter
            )
            assert basis is not None
            replayed[case_id] = ledger_of(basis, read_at)
        portal = Principal(name="contoso-portal", role=Role.PORTAL, tenants=("contoso",))
        customer = await read_ledger(cases, one, portal, read_at)
        other = Principal(name="fabrikam-portal", role=Role.PORTAL, tenants=("fabrikam",))
        try:
            await read_ledger(cases, one, other, read_at)
            raise AssertionError("another tenant's portal read the ledger")
        except LookupError:
            pass
        zh = explained(live[one], "zh-CN")
        hu = explained(live[one], "hu", "Europe/Budapest")

    for case_id in (one, two):
        assert replayed[case_id] == live[case_id], case_id

    # Case 1, by hand: first response on a 9 h target: Fri 17:00-18:00 (1 h), closed Sat, Sun and
    # the Monday holiday, Tue 09:00-17:14 (8 h 14 min): 9 h 14 min, breached by 14 min.
    fr = live[one].clocks[0]
    assert (fr.clock, fr.state) == ("first_response", "breached")
    assert near(fr.used_seconds, 9 * HOUR + 14 * 60) and near(fr.breached_by_seconds, 14 * 60)
    # (the milliseconds between opening and the assignment ran with nobody holding the case)
    kinds = [s.kind for s in fr.segments if s.end - s.start >= timedelta(seconds=1)]
    assert kinds == [
        SegmentKind.RUNNING,
        SegmentKind.OUTSIDE_HOURS,
        SegmentKind.HOLIDAY,
        SegmentKind.OUTSIDE_HOURS,
        SegmentKind.RUNNING,
    ]
    assert [a.assignee for a in fr.by_assignee if a.business_seconds >= 1] == ["zhang.min"]
    # Its first update cycle: Tue 17:14-18:00 (46 min), Wed 09:00-09:30 (30 min), paused 3 h 10 min
    # for request-1, 12:40-14:00 (1 h 20 min): 2 h 36 min of 9 h, met.
    update = next(c for c in live[one].clocks if c.clock == "customer_update" and c.cycle == 0)
    assert update.state == "met" and near(update.used_seconds, 2 * HOUR + 36 * 60)
    paused = next(s for s in update.segments if s.kind is SegmentKind.PAUSED_AWAITING_CUSTOMER)
    assert paused.request_id == "request-1"
    assert near((paused.end - paused.start).total_seconds(), 3 * HOUR + 10 * 60)

    lines = accounts[one].splitlines()
    fri, tue, wed = (at(d, 0).strftime("%m-%d") for d in (0, 4, 5))
    mon = at(3, 0).strftime("%m-%d")
    assert lines[2] == (
        "first response: breached by 14 min (9 h 14 min used of 9 h): "
        f"1 h used until 18:00 Fri {fri} (held by zhang.min), "
        f"closed until 09:00 Tue {tue} (holiday on Mon {mon}), "
        f"8 h 14 min used until 17:14 Tue {tue} (held by zhang.min)"
    ), accounts[one]
    assert lines[3] == (
        "customer update 1: met with 6 h 24 min to spare (2 h 36 min of 9 h): "
        f"46 min used until 18:00 Tue {tue} (held by zhang.min), closed until 09:00 Wed {wed}, "
        f"30 min used until 09:30 Wed {wed} (held by zhang.min), "
        f"paused 3 h 10 min awaiting the customer's request-1, until 12:40 Wed {wed}, "
        f"1 h 20 min used until 14:00 Wed {wed} (held by zhang.min)"
    ), accounts[one]
    assert "已超时 14分钟" in zh and "12-14" in zh and "节假日" in zh
    assert "14 perc késéssel lejárt" in hu and "(Europe/Budapest)" in hu
    assert f"ünnepnap: {mon} (hétfő)" in hu, "the holiday is the calendar's date, read anywhere"

    # The customer's side: the same segments, no staff names.
    assert customer.by_assignee == [] and all(s.assignee is None for c in customer.clocks for s in c.segments)
    assert [s.kind for s in customer.clocks[0].segments] == [s.kind for s in fr.segments]

    # Case 2, by hand: first response Fri 17:00-18:00 and Saturday (make-up) 09:00-10:00: 2 h, met.
    fr2 = live[two].clocks[0]
    assert fr2.state == "met" and near(fr2.used_seconds, 2 * HOUR)
    assert fr2.segments[-1].kind is SegmentKind.MAKE_UP_WORKDAY
    # The update clock from Saturday 10:00: 7 h on the make-up day, downgraded B -> C at 17:00
    # (the contact data's business day ran out), 1 h more, closed Sunday, Monday 09:00-10:00:
    # 9 h used of C's 2 business days (18 h), met.
    update2 = next(c for c in live[two].clocks if c.clock == "customer_update" and c.cycle == 0)
    marker = next(s for s in update2.segments if s.kind is SegmentKind.SEVERITY_CHANGED)
    assert (marker.previous, marker.severity) == (Severity.B, Severity.C)
    assert marker.start.astimezone(SHANGHAI).replace(microsecond=0) == at(8, 17)
    assert (update2.state, update2.allowed_seconds) == ("met", 18 * HOUR)
    assert near(update2.used_seconds, 9 * HOUR)
    assert "severity B to C" in accounts[two] and "make-up workday" in accounts[two]

"""Reports that count what people saw (issue 24): open cases (answered, awaiting, past due) beside
closed ones, reopens in the window in which they happened, first-response percentiles over every
answered case (running ones included), and a date range in the reader's zone with field-level
errors. Then one running case reopened today, counted alike by the API, the CLI and the console
(the one count: `support.reporting.reports.sla_report`)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from adapters.closed_cases import store_closed_case
from adapters.console_cases import ConsoleCases
from adapters.reports_store import closed_cases_in, running_cases_in
from adapters.settings import Settings
from application.reports import ReportRows
from bootstrap.cli import main
from interfaces.console.report_range import report_range
from interfaces.console.weekly import week_windows
from support.case.action_receipt import QueueFacts
from support.case.view import CaseView
from support.reporting.closed_case import ClosedCase
from support.reporting.reports import ClosedRow, OpenCase, ReportWindow, sla_report
from tests.conftest import running_worker
from tests.system.test_access import api_client
from tests.system.test_api import as_key, body
from tests.system.test_reports import engine  # noqa: F401 (the fixture: SQLite and PostgreSQL)
from tests.unit.test_console import sign_in

T0 = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
WEEK = ReportWindow(since=T0, until=T0 + timedelta(days=7))
NOW = T0 + timedelta(days=3)


def closed(case_id: str, opened: datetime, **fields: Any) -> ClosedRow:
    values: dict[str, Any] = {
        "case_id": case_id, "tenant_id": "contoso", "category": "technical", "final_severity": "B",
        "status": "closed", "created_at": opened, "opened_at": opened,
        "first_response_due": opened + timedelta(hours=4), "first_response_at": opened + timedelta(hours=1),
        "first_response_met": True, "first_response_business_s": 3600.0, "first_response_wall_s": 3600.0,
        "archived_at": opened + timedelta(days=2),
    }  # fmt: skip
    return ClosedRow.model_validate(values | fields)


def running(case_id: str, started: datetime, **fields: Any) -> OpenCase:
    values: dict[str, Any] = {
        "case_id": case_id, "tenant_id": "contoso", "category": "technical", "severity": "B",
        "status": "in_progress", "started_at": started, "first_response_due": started + timedelta(hours=4),
    }  # fmt: skip
    return OpenCase.model_validate(values | fields)


def test_open_cases_are_counted_beside_closed_ones() -> None:
    report = sla_report(
        WEEK,
        [closed("c1", T0 + timedelta(hours=1))],
        [
            running("answered", T0 + timedelta(hours=2), first_response_business_s=7200.0),
            running("waiting", NOW - timedelta(hours=1), status="awaiting_first_response"),
            running("late", T0 + timedelta(hours=3), status="awaiting_first_response"),
        ],
        NOW,
    )
    assert (report.cases, report.closed, report.running) == (4, 1, 3)
    assert (report.running_answered, report.open, report.running_past_due) == (1, 1, 1)
    assert report.by_severity["B"].running_past_due == 1 and report.open_past_due == 1
    # p50/p90 over the closed case (1 h) and the running answered one (2 h): nearest rank
    assert (report.first_response_business_s.p50, report.first_response_business_s.p90) == (3600.0, 7200.0)


def test_a_reopen_counts_in_the_window_in_which_it_happened() -> None:
    before = T0 - timedelta(days=10)
    report = sla_report(
        WEEK,
        [
            # opened before the window, reopened in it: its reopen counts, the case does not
            closed(
                "old", before, reopens=2, reopened_at=[before + timedelta(days=1), T0 + timedelta(hours=5)]
            ),
            # opened in the window, reopened after it: no reopen in this window
            closed("later", T0 + timedelta(hours=1), reopens=1, reopened_at=[T0 + timedelta(days=8)]),
            # archived before the instants were kept: its reopens count with its opening, as before
            closed("legacy", T0 + timedelta(hours=2), reopens=1),
        ],
        [running("today", before, reopened_at=[NOW - timedelta(hours=1)])],  # reopened today
        NOW,
    )
    assert report.reopens == 3, "old's second, legacy's, and today's"
    assert report.cases == 2, "cases opened before the window add only their reopens"
    assert report.by_severity["B"].reopens == 3 and report.by_tenant["contoso"].cases == 2
    nothing = sla_report(WEEK, [], [running("quiet", T0 - timedelta(days=3))], NOW)
    assert (nothing.cases, nothing.reopens, nothing.by_tenant) == (0, 0, {})


def test_each_week_of_a_range_counts_its_own_cases_and_reopens_and_the_weeks_add_up() -> None:
    """The console's chart reports each week from the rows of the range, reduced once
    (`ReportRows`, `CountedCases`): each week counts what a report of that week alone counts, the
    cases opened in it and the reopens that happened in it, and the weeks add up to the range."""
    now = T0 + timedelta(days=22)
    three = ReportWindow(since=T0, until=T0 + timedelta(days=21))
    closed_rows = [
        closed("a", T0 + timedelta(hours=1), reopens=1, reopened_at=[T0 + timedelta(days=8)]),
        closed("legacy", T0 + timedelta(days=9), reopens=2),  # instants not kept: with its opening
        closed("refused", T0 + timedelta(days=10), opened_at=None, first_response_met=None),
        closed("elsewhere", T0 + timedelta(days=2), tenant_id="fabrikam"),
    ]
    running_rows = [
        running("a", T0 + timedelta(hours=1)),  # still listed running: its closed record counts
        running("late", T0 + timedelta(days=1), status="awaiting_first_response"),
        running("before", T0 - timedelta(days=3), reopened_at=[T0 + timedelta(days=2)]),
        running("r1", T0 + timedelta(days=15), reopened_at=[T0 + timedelta(days=16)]),
    ]
    rows = ReportRows(closed=closed_rows, running=list(running_rows), held=None)
    weeks = week_windows(three)
    reports = [rows.report(w, ("contoso",), now) for w in weeks]
    figures = [(r.cases, r.reopens, r.not_opened, r.running_past_due, r.closed) for r in reports]
    assert figures == [(2, 1, 0, 1, 1), (1, 3, 1, 0, 1), (1, 1, 0, 0, 0)]
    whole = rows.report(three, ("contoso",), now)
    assert (whole.cases, whole.reopens, whole.not_opened, whole.open_past_due) == (4, 5, 1, 1)
    for week, report in zip(weeks, reports, strict=True):
        alone = sla_report(week, closed_rows, running_rows, now, ("contoso",))
        assert report.model_dump(exclude={"by_assignee"}) == alone.model_dump(exclude={"by_assignee"})


def test_reopen_instants_are_kept_in_the_row_and_read_back_by_reports(engine: Engine) -> None:  # noqa: F811
    """The closed row keeps when each reopen happened (readable: no personal data); the report's
    read finds a case opened before the window whose reopen may fall in it."""
    before = T0 - timedelta(days=10)
    row: dict[str, Any] = {
        "case_id": "case-contoso.reopened", "tenant_id": "contoso", "category": "technical",
        "requested_severity": "B", "initial_severity": "B", "final_severity": "B", "status": "closed",
        "created_at": before, "opened_at": before, "first_response_due": None, "first_response_at": None,
        "first_response_met": None, "sla_breached": False, "first_response_business_s": None,
        "first_response_wall_s": None, "customer_update_breaches": 0, "downgrades": 0, "reopens": 2,
        "resolved_at": None, "closed_at": T0 + timedelta(days=1), "survey_outcome": None,
        "survey_score": None, "record": "{}", "archived_at": T0 + timedelta(days=1),
        "reopened_at": [before + timedelta(days=1), T0 + timedelta(hours=5)],
    }  # fmt: skip
    store_closed_case(engine, ClosedCase.model_validate(row))
    store_closed_case(
        engine,
        ClosedCase.model_validate(row | {"case_id": "case-contoso.quiet", "reopens": 0, "reopened_at": []}),
    )
    [found] = closed_cases_in(engine, WEEK, None)
    assert found.case_id == "case-contoso.reopened"
    assert found.reopened_at == [before + timedelta(days=1), T0 + timedelta(hours=5)]
    report = sla_report(WEEK, [found], [], NOW)
    assert (report.cases, report.reopens) == (0, 1)


def projected(
    store: ConsoleCases, case_id: str, opened: datetime, view: Mapping[str, Any] | None = None, **facts: Any
) -> None:
    """A running case's row in the console's projection, with the queue facts its last action gave
    (none: the row its view alone gives, as a read or `console reproject` writes it)."""
    tenant = case_id.split(".")[0].removeprefix("case-")
    fixed: dict[str, Any] = {
        "case_id": case_id, "request_id": case_id, "status": "in_progress", "tenant_id": tenant,
        "category": "technical", "requested_severity": "B", "severity": "B", "title": "t", "channel": "web",
        "language": "en", "created_at": opened, "opened_at": opened,
    }  # fmt: skip
    store.project(CaseView.model_validate(fixed | dict(view or {})))
    if not facts:
        return  # as `console reproject` writes it: from the view alone
    due = {"status": "in_progress", "severity": "B", "first_response_due": opened + timedelta(hours=4)}
    store.refresh(case_id, QueueFacts.model_validate(due | facts))


def test_running_cases_are_read_from_the_projection_in_one_query(engine: Engine) -> None:  # noqa: F811
    """The report's running cases come from `console_cases` (no case is asked for its view): what
    the count needs is on the row, and a case with a closed record is counted once, as closed."""
    store = ConsoleCases(engine, None)
    at, before = T0 + timedelta(hours=2), T0 - timedelta(days=10)
    answered: dict[str, Any] = {
        "first_response_at": at + timedelta(hours=5),
        "first_response_business_s": 5400.0,
    }
    quickly: dict[str, Any] = {
        "first_response_at": at + timedelta(hours=1),
        "first_response_business_s": 1800.0,
    }
    projected(store, "case-contoso.waiting", NOW - timedelta(hours=1), status="awaiting_first_response")
    projected(store, "case-contoso.late", at, status="awaiting_first_response", breached=True)
    projected(store, "case-contoso.slow", at, first_response_met=False, **answered)
    projected(store, "case-contoso.quick", at, first_response_met=True, **quickly)
    reopens = [before + timedelta(days=1), T0 + timedelta(hours=5)]
    projected(store, "case-contoso.again", before, first_response_met=True, reopened_at=reopens)
    projected(store, "case-contoso.old", before, reopened_at=reopens[:1])  # reopened before the window
    reread: dict[str, Any] = {  # its view's clock and timeline give what reports count
        "first_response": {
            "name": "first_response", "target": "B", "business_time": timedelta(hours=4),
            "started_at": before, "segments": [], "due": before + timedelta(hours=4), "state": "met",
            "answered_at": before + timedelta(hours=1), "business_time_to_answer": timedelta(minutes=50),
        },
        "timeline": [{"at": T0 + timedelta(hours=6), "actor": "customer", "kind": "reopened", "message": ""}],
    }  # fmt: skip
    projected(store, "case-contoso.reread", before, reread)
    projected(store, "case-fabrikam.other", at)
    projected(store, "case-contoso.ended", at)
    ended: dict[str, Any] = {
        "case_id": "case-contoso.ended", "tenant_id": "contoso", "category": "technical",
        "requested_severity": "B", "initial_severity": "B", "final_severity": "B", "status": "closed",
        "created_at": at, "opened_at": at, "first_response_due": None, "first_response_at": None,
        "first_response_met": None, "sla_breached": False, "first_response_business_s": None,
        "first_response_wall_s": None, "customer_update_breaches": 0, "downgrades": 0, "reopens": 0,
        "resolved_at": None, "closed_at": at, "survey_outcome": None, "survey_score": None,
        "record": "{}", "archived_at": at,
    }  # fmt: skip
    store_closed_case(engine, ClosedCase.model_validate(ended))

    running = running_cases_in(engine, WEEK, ("contoso",))
    assert sorted(c.case_id.split(".")[1] for c in running) == [
        "again",
        "late",
        "quick",
        "reread",
        "slow",
        "waiting",
    ]
    [slow] = [c for c in running if c.case_id.endswith("slow")]
    [again] = [c for c in running if c.case_id.endswith("reread")]
    assert again.first_response_business_s == 3000 and again.reopened_at == (T0 + timedelta(hours=6),)
    assert slow.first_response_wall_s == 5 * 3600 and slow.started_at == at and slow.started_at.tzinfo
    assert running_cases_in(engine, WEEK, ()) == []
    report = sla_report(WEEK, closed_cases_in(engine, WEEK, ("contoso",)), running, NOW, ("contoso",))
    assert (report.cases, report.closed, report.running) == (5, 1, 4)
    assert (report.running_answered, report.open, report.running_past_due) == (2, 1, 1)
    assert (report.met, report.breached, report.reopens) == (1, 2, 2), "slow missed its first response"
    assert (report.first_response_business_s.p50, report.first_response_business_s.p90) == (1800.0, 5400.0)


def test_a_window_spans_at_most_366_days() -> None:
    ReportWindow(since=T0, until=T0 + timedelta(days=366))
    with pytest.raises(ValidationError, match="at most 366 days"):
        ReportWindow(since=T0, until=T0 + timedelta(days=367))


def test_the_console_range_is_whole_days_in_the_readers_zone_and_says_what_is_wrong() -> None:
    chosen = report_range("2026-11-16", "2026-11-22", "Asia/Shanghai", NOW)
    assert chosen.window is not None and not chosen.problems
    assert chosen.window.since == datetime(2026, 11, 15, 16, tzinfo=UTC)  # 00:00 in Shanghai
    assert chosen.window.until == datetime(2026, 11, 22, 16, tzinfo=UTC)  # the day after `to`
    budapest = report_range("2026-03-29", "2026-03-29", "Europe/Budapest", NOW).window
    assert budapest is not None and budapest.until - budapest.since == timedelta(hours=23), "summer time"
    default = report_range(None, None, "Europe/Budapest", NOW)
    assert default.window is not None and (default.first, default.last) == (
        NOW.date() - timedelta(days=55),
        NOW.date(),
    )
    for first, last, problems in (
        ("2026-11-22", "2026-11-16", {"to": "range_to_before_from"}),
        ("2025-01-01", "2026-11-16", {"to": "range_too_long"}),
        ("16/11/2026", "2026-11-16", {"from": "range_not_a_date"}),
        ("2026-11-16", "tomorrow", {"to": "range_not_a_date"}),
    ):
        bad = report_range(first, last, "UTC", NOW)
        assert (bad.window, bad.problems) == (None, problems), (first, last)
    assert report_range("2025-11-17", "2026-11-17", "UTC", NOW).window is not None, "366 days"


# -- one case reopened today, as the API, the CLI and the console count it ------------------------------

FIGURES = ("cases", "closed", "running", "running_answered", "open", "running_past_due", "met", "reopens")


def console_figures(page: str) -> dict[str, int]:
    row = re.search(r'<tr id="total-row">(.*?)</tr>', page, re.S)
    assert row is not None, page
    cells = dict(re.findall(r'<td class="([a-z-]+)">([^<]*)</td>', row.group(1)))
    names = {"cases": "cases", "closed": "closed", "answered": "running_answered", "unanswered": "open",
             "past-due": "running_past_due", "met": "met", "reopens": "reopens"}  # fmt: skip
    found = {names[k]: int(v) for k, v in cells.items() if k in names}
    return found | {"running": found["running_answered"] + found["open"] + found["running_past_due"]}


async def test_a_case_reopened_today_counts_alike_in_the_api_the_cli_and_the_console(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    request_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    async with (  # the worker's gateway: it writes the console's projection, which reports read
        running_worker(dev_env.client, settings) as cases,
        api_client(dev_env.client, settings, cases) as http,
    ):
        opened = await http.post(
            "/cases", json=body(request_id, severity="C"), headers=as_key("contoso-portal")
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case"]["case_id"]
        second = await http.post(
            "/cases", json=body(request_id + "w", severity="C"), headers=as_key("contoso-portal")
        )
        assert second.status_code == 201, second.text
        agent, portal = as_key("li.wei"), as_key("contoso-portal")
        for path, payload, key in (
            ("respond", {"message": "Looking at it"}, agent),
            ("resolve", {"summary": "MX record fixed"}, agent),
            ("reopen", {"requester": "admin@contoso.example", "reason": "it is back"}, portal),
        ):
            done = await http.post(f"/cases/{case_id}/{path}", json=payload, headers=key)
            assert done.status_code == 200, (path, done.text)
        now = datetime.now(UTC)
        window = {
            "since": (now - timedelta(days=1)).isoformat(),
            "until": (now + timedelta(days=1)).isoformat(),
        }
        api: dict[str, Any] = {}
        for _ in range(100):  # visibility is eventually consistent
            api = (await http.get("/reports/sla", params=window, headers=as_key("ops"))).json()
            if api["running_answered"] == 1 and api["open"] == 1:
                break
            await asyncio.sleep(0.1)
        assert {k: api[k] for k in FIGURES} == {
            "cases": 2, "closed": 0, "running": 2, "running_answered": 1, "open": 1,
            "running_past_due": 0, "met": 1, "reopens": 1,
        }, api  # fmt: skip
        assert api["first_response_business_s"]["p50"] is not None, "the running answered case's"

        monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "no-such-temporal.toml"))
        monkeypatch.setenv("CASEWORK_VAR", str(settings.var_dir))
        monkeypatch.delenv("DATABASE_URL", raising=False)
        argv = ["report", "sla", "--since", window["since"], "--until", window["until"]]
        code = await asyncio.to_thread(main, argv)
        out, err = capsys.readouterr()
        assert code == 0, err
        cli = json.loads(out)
        assert {k: cli[k] for k in FIGURES} == {k: api[k] for k in FIGURES}

        await sign_in(http, "ops")
        day = now.date()  # ops reads in the support zone: a day either side covers it
        span = {"from": (day - timedelta(days=1)).isoformat(), "to": (day + timedelta(days=1)).isoformat()}
        page = await http.get("/console/reports", params=span)
        assert page.status_code == 200, page.text
        assert console_figures(page.text) == {k: api[k] for k in FIGURES if k in console_figures(page.text)}
        assert console_figures(page.text)["reopens"] == 1

        code = await asyncio.to_thread(main, [*argv[:3], "2025-01-01T00:00:00Z", *argv[4:]])
        assert (code, capsys.readouterr().err.strip()) == (2, "--until: the window spans at most 366 days")
        long = await http.get(
            "/reports/sla",
            params={"since": "2025-01-01T00:00:00Z", "until": window["until"]},
            headers=as_key("ops"),
        )
        assert long.status_code == 422 and [f["field"] for f in long.json()["fields"]] == ["query.until"]
        backwards = await http.get(
            "/console/reports", params={"from": span["to"], "to": span["from"], "lang": "hu"}
        )
        assert backwards.status_code == 422 and 'id="error-to"' in backwards.text
        assert (
            "A záró dátum korábbi a kezdő dátumnál." in backwards.text
            and "summary-table" not in backwards.text
        )

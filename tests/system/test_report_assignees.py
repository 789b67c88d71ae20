"""Time per assignee in the SLA report: who held each clock, from the SLA ledger. A closed case's
row keeps it (the archive activity derives it from the final view and the policy snapshot the case
hands over, on SQLite and PostgreSQL); the report adds up closed rows and running cases' ledgers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.archive import ArchiveActivities
from adapters.database import open_database
from adapters.reports_store import closed_cases_in
from adapters.settings import Settings
from support.case.actions import Assignment, FirstResponse, Resolution
from support.reporting.closed_case import UNASSIGNED, CaseArchive, assignee_clocks
from support.reporting.reports import ReportWindow, report_table, sla_report
from support.sla_clocks.ledger import case_ledger
from tests.case_driver import Driver
from tests.requests import case_request

OPENED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
WINDOW = ReportWindow(since=OPENED - timedelta(days=1), until=OPENED + timedelta(days=1))


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    yield engine
    engine.dispose()


def handed_over_case() -> Driver:
    """A B case nobody held for 20 min, then li.wei for 40 min, who answered; resolved; run to its end."""
    driver = Driver(case_request("held", severity="B"), OPENED)
    driver.advance(timedelta(minutes=20))
    driver.act(Assignment(engineer="duty", assignee="li.wei", reason="on duty"))
    driver.advance(timedelta(minutes=40))
    driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
    driver.act(Resolution(engineer="li.wei", summary="Fixed"))
    driver.run_until(lambda view: view.status.value == "closed", timedelta(days=30))
    driver.advance(timedelta(days=30))
    return driver


async def test_the_archived_row_keeps_who_held_each_clock_and_the_report_adds_it_up(engine: Engine) -> None:
    driver = handed_over_case()
    assert driver.done
    await ActivityEnvironment().run(ArchiveActivities(engine).archive_case, driver.case.archive())
    [row] = closed_cases_in(engine, WINDOW, None)
    ledger = case_ledger(driver.view, driver.case.rules, driver.case.facts.time_zone, driver.now)
    assert row.by_assignee == assignee_clocks(ledger)
    held = row.by_assignee["li.wei"]["first_response"]
    unheld = row.by_assignee[UNASSIGNED]["first_response"]
    assert abs(unheld - 20 * 60) <= 1 and abs(held - 40 * 60) <= 1

    running = {"case-running": {"zhang.min": {"first_response": 600.0}, "li.wei": {"obligation": 60.0}}}
    report = sla_report(WINDOW, [row], [], OPENED + timedelta(days=60), None, running)
    assert report.by_assignee is not None
    li = report.by_assignee["li.wei"]
    assert li.cases == 1 and li.business_s["first_response"] == pytest.approx(2400, abs=1)
    assert "zhang.min" not in report.by_assignee, "a running case not in the window adds nothing"
    assert "business time held, by assignee:" in report_table(report)


async def test_a_bare_view_archives_without_time_per_assignee(engine: Engine) -> None:
    driver = handed_over_case()
    bare = CaseArchive(**dict(driver.view))  # as an older workflow hands it over: the view alone
    await ActivityEnvironment().run(ArchiveActivities(engine).archive_case, bare)
    [row] = closed_cases_in(engine, WINDOW, None)
    assert row.by_assignee is None
    assert sla_report(WINDOW, [row], [], OPENED + timedelta(days=60)).by_assignee == {}

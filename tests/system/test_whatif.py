"""Policy what-if: closed cases re-decided from the inputs their rows keep, under a proposed policy.

Cases run through the pure machine (tests/case_driver.py, as the workflow runs them), archived by
the real archive activity into a real database (SQLite and PostgreSQL), then read back by the
what-if: with the policy unchanged nothing flips and every figure equals `report sla`'s (the
identity check); with A's first-response target halved exactly the cases whose first response came
in the second half of the hour flip, which the test computes on its own from the answer times.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

import application.whatif
from activities.archive import ArchiveActivities
from adapters.closed_cases import closed_case_inputs
from adapters.codec import KeyRing
from adapters.database import open_database
from adapters.policy_versions import policy_history
from adapters.reports_store import closed_cases_in
from adapters.settings import PROJECT_ROOT, Settings
from application.whatif import ProposedPolicy, build_whatif, whatif_phrases
from bootstrap.cli import main
from support.case.actions import FirstResponse, Resolution
from support.policies.policy import PolicyError, parse_policy
from support.policies.versions import policy_digest
from support.reporting.closed_case import CaseArchive
from support.reporting.reports import ReportWindow, sla_report
from support.reporting.whatif import LiveInputs
from support.reporting.whatif_output import whatif_csv, whatif_table
from tests.case_driver import Driver
from tests.conftest import running_worker
from tests.requests import case_request
from tests.system.test_access import api_client
from tests.system.test_api import as_key


def _a_monday_weeks_ago() -> datetime:
    """A Monday 09:00 in Shanghai at least 60 days back: the archived cases and a case opened now
    fit in one report window (at most 366 days) whatever day the suite runs."""
    start = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=60)
    return start - timedelta(days=start.weekday())


OPENED = _a_monday_weeks_ago()  # Monday 09:00 in Shanghai
WINDOW = ReportWindow(since=OPENED - timedelta(days=1), until=OPENED + timedelta(days=2))
NOW = OPENED + timedelta(days=40)
POLICY = (PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8")
HALVED = POLICY.replace('first_response = "1h"', 'first_response = "30m"', 1)
# A cases answered this many minutes after opening (A runs 24x7: business time is wall time)
ANSWERED_AFTER = [5, 20, 29, 31, 45, 59, 75]
KEY = bytes(range(32))


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    yield engine
    engine.dispose()


def answered_case(minutes: int, index: int, severity: str = "A") -> Driver:
    opened = OPENED + timedelta(minutes=index)
    driver = Driver(case_request(f"w{index}", severity=severity), opened)
    driver.advance_to(opened + timedelta(minutes=minutes))
    driver.act(FirstResponse(engineer="li.wei", message="Looking at it"))
    driver.act(Resolution(engineer="li.wei", summary="Fixed"))
    driver.run_until(lambda view: view.status.value == "closed", timedelta(days=30))
    driver.advance(timedelta(days=10))
    assert driver.done
    return driver


def waited(driver: Driver) -> float:
    """Seconds from opening to the first response, from the case's own record."""
    clock, opened = driver.view.first_response, driver.view.opened_at
    assert clock is not None and clock.answered_at is not None and opened is not None
    return (clock.answered_at - opened).total_seconds()


async def archived(engine: Engine, keys: KeyRing | None) -> list[Driver]:
    drivers = [answered_case(m, i) for i, m in enumerate(ANSWERED_AFTER)]
    drivers.append(answered_case(200, 50, severity="B"))  # B: 1 business day, unchanged by the edit
    activities = ArchiveActivities(engine, keys)
    for driver in drivers:
        await ActivityEnvironment().run(activities.archive_case, driver.case.archive())
    return drivers


async def test_with_the_policy_unchanged_nothing_flips_and_the_figures_are_the_sla_reports(
    engine: Engine,
) -> None:
    await archived(engine, KeyRing(KEY))
    report = await build_whatif(
        engine, None, WINDOW, None, ProposedPolicy(POLICY, "policy.toml"), NOW, KeyRing(KEY)
    )
    assert report.flips == [] and report.redecided == len(ANSWERED_AFTER) + 1 and report.kept_as_recorded == 0
    sla = sla_report(WINDOW, closed_cases_in(engine, WINDOW, None), [], NOW)
    by = {(g.dimension, g.key): g for g in report.groups}
    assert by["total", "all"].in_force.met == sla.met and by["total", "all"].in_force.cases == sla.cases
    for key, group in sla.by_severity.items():
        assert by["severity", key].in_force == group == by["severity", key].proposed
    for key, group in sla.by_category.items():
        assert by["category", key].in_force == group == by["category", key].proposed
    assert "No case's verdict flips." in whatif_table(report, whatif_phrases("en"))


async def test_halving_as_target_flips_exactly_the_cases_answered_in_the_second_half(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    drivers = await archived(engine, None)
    report = await build_whatif(engine, None, WINDOW, None, ProposedPolicy(HALVED, "proposed.toml"), NOW)
    # independently: an A case flips when its business time to answer (24x7: wall time, plus the
    # driver's 10 ms pace) is over 30 min and within the hour it met
    expected = {d.view.case_id for d in drivers[: len(ANSWERED_AFTER)] if 30 * 60 < waited(d) <= 60 * 60}
    assert len(expected) == 3
    assert {f.case_id for f in report.flips} == expected
    for flip in report.flips:
        assert (flip.in_force, flip.proposed, flip.severity) == ("met", "breached", "A")
        assert flip.due_proposed is not None and flip.due_in_force is not None
        assert flip.due_proposed - flip.due_in_force == timedelta(minutes=-30)
        assert flip.segment is not None and flip.segment.kind.counts
        assert flip.segment.start <= flip.due_proposed <= flip.segment.end
    by = {(g.dimension, g.key): g for g in report.groups}
    a = by["severity", "A"]
    assert (a.in_force.met, a.in_force.breached, a.proposed.met, a.proposed.breached) == (6, 1, 3, 4)
    assert by["severity", "B"].in_force == by["severity", "B"].proposed
    for language in ("en", "zh-CN", "hu"):
        table = whatif_table(report, whatif_phrases(language))
        assert all(case_id in table for case_id in expected)
    assert "severity,A,proposed,7,3,4" in whatif_csv(report)
    if engine.dialect.name == "sqlite":  # the pool's children make the same outcomes (once is enough)
        monkeypatch.setattr(application.whatif, "POOL_FROM", 1)
        shared = await build_whatif(
            engine, None, WINDOW, None, ProposedPolicy(HALVED, "proposed.toml"), NOW, processes=2
        )
        assert shared == report


async def test_a_case_archived_without_inputs_counts_as_recorded(engine: Engine) -> None:
    driver = answered_case(45, 0)
    bare = CaseArchive(**dict(driver.view))
    await ActivityEnvironment().run(ArchiveActivities(engine).archive_case, bare)
    assert closed_case_inputs(engine, [driver.view.case_id]) == {}
    report = await build_whatif(engine, None, WINDOW, None, ProposedPolicy(HALVED, "proposed.toml"), NOW)
    assert (report.redecided, report.kept_as_recorded, report.flips) == (0, 1, [])


def test_a_bad_proposed_policy_is_refused_naming_the_table_and_field() -> None:
    with pytest.raises(PolicyError, match=r"proposed.toml: \[severities.A\] first_response"):
        ProposedPolicy(POLICY.replace('first_response = "1h"', 'first_response = "soon"', 1), "proposed.toml")


# -- policy versions on record, and the inputs a real case hands over (time-skipping server) ------


async def test_a_real_case_records_its_policy_version_and_hands_its_inputs_over(
    time_env: WorkflowEnvironment,
    settings: Settings,
    request_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    digest = policy_digest(parse_policy(settings.policy_path.read_text(encoding="utf-8")))
    async with running_worker(time_env.client, settings) as cases:
        running = (await cases.open(case_request(request_id))).case.case_id
        live = await time_env.client.get_workflow_handle(running).query("case_inputs", result_type=LiveInputs)
        refused = (await cases.open(case_request(f"{request_id}-x", requester="staff@contoso.example"))).case
        await time_env.client.get_workflow_handle(refused.case_id).result()
    assert live.view.policy_digest == digest and live.inputs is not None
    assert live.inputs.inputs.opening is not None and live.inputs.inputs.policy_digest == digest
    engine = open_database(settings)
    try:
        inputs = closed_case_inputs(engine, [refused.case_id])
        [version] = policy_history(engine)
    finally:
        engine.dispose()
    assert refused.case_id in inputs and inputs[refused.case_id].inputs.policy_digest == digest
    assert version.digest == digest and version.first_seen_by.startswith("worker@")

    if settings.database_url:
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CASEWORK_VAR", str(settings.var_dir))
    assert main(["policy", "history"]) == 0
    out = capsys.readouterr().out
    [listed] = json.loads(out[out.index("[\n") :])  # after the worker's log lines
    assert listed["digest"] == digest and listed["short"] == digest[:12]
    assert main(["policy", "diff", digest[:8], digest[:12]]) == 0
    assert "the two files are the same text" in capsys.readouterr().out


# -- POST /reports/whatif (the real dev server: visibility lists the running cases) ---------------


async def test_the_api_whatif_for_operators_with_field_level_errors(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    engine = open_database(settings)
    try:
        drivers = await archived(engine, None)
    finally:
        engine.dispose()
    now = datetime.now(UTC)
    window = {"since": WINDOW.since.isoformat(), "until": (now + timedelta(days=1)).isoformat()}
    toml = {"Content-Type": "application/toml"}
    async with (
        running_worker(dev_env.client, settings) as cases,
        api_client(dev_env.client, settings) as http,
    ):
        running = (await cases.open(case_request(request_id))).case.case_id
        same = await http.post("/reports/whatif", params=window, content=POLICY, headers=as_key("ops") | toml)
        halved = await http.post(
            "/reports/whatif", params=window, content=HALVED, headers=as_key("ops") | toml
        )
        portal = await http.post(
            "/reports/whatif", params=window, content=POLICY, headers=as_key("contoso-portal") | toml
        )
        agent = await http.post(
            "/reports/whatif", params=window, content=POLICY, headers=as_key("li.wei") | toml
        )
        bad = await http.post(
            "/reports/whatif",
            params=window,
            content=POLICY.replace('first_response = "1h"', 'first_response = "soon"', 1),
            headers=as_key("ops") | toml,
        )
        sla_ops = (await http.get("/reports/sla", params=window, headers=as_key("ops"))).json()
        sla_portal = (await http.get("/reports/sla", params=window, headers=as_key("contoso-portal"))).json()
    assert same.status_code == 200, same.text
    report = same.json()
    assert report["flips"] == [] and report["redecided"] == len(drivers) + 1, "the running case re-run too"
    assert halved.status_code == 200
    flipped = {f["case_id"] for f in halved.json()["flips"]}
    assert running not in flipped and len(flipped) == 3
    assert (portal.status_code, agent.status_code) == (403, 403)
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["fields"]}
    assert "body.severities.A.first_response" in fields, bad.json()
    assert sla_ops["by_assignee"]["li.wei"]["cases"] == len(drivers) and sla_portal["by_assignee"] is None

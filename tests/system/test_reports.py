"""SLA and satisfaction reports: the pure counting (windows, open cases past due, nulls,
nearest-rank percentiles, satisfaction), the database read, the API over real HTTP per role, the
CLI's three formats, and the worker's /metrics (first-response buckets, survey counters)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, insert
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.mail_sink import free_port
from adapters.reports_store import closed_cases_in
from adapters.schema import closed_cases
from adapters.settings import Settings, venv_binary
from adapters.telemetry import FIRST_RESPONSE_BUCKETS, make_runtime
from application.reports import open_cases_query
from bootstrap.cli import main
from bootstrap.worker_runtime import register_case_search_attributes
from scaffold.local_stack import SERVER_STARTUP
from support.case.actions import FirstResponse, Resolution, SurveyAnswer
from support.identity.access import Principal, Role
from support.reporting.reports import (
    CSV_COLUMNS,
    ClosedRow,
    OpenCase,
    ReportWindow,
    nearest_rank,
    report_csv,
    report_table,
    report_tenants,
    severity_at_first_response,
    sla_report,
)
from tests.conftest import running_worker, skipping_clock
from tests.requests import case_request
from tests.system.test_access import api_client
from tests.system.test_api import as_key, body

SHANGHAI = ZoneInfo("Asia/Shanghai")  # contoso's zone
T0 = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
WEEK = ReportWindow(since=T0, until=T0 + timedelta(days=7))
NOW = T0 + timedelta(days=8)


def closed(case_id: str, **fields: Any) -> ClosedRow:
    row: dict[str, Any] = {
        "case_id": case_id,
        "tenant_id": "contoso",
        "category": "technical",
        "requested_severity": "B",
        "initial_severity": "B",
        "final_severity": "B",
        "status": "closed",
        "created_at": T0 + timedelta(hours=1),
        "opened_at": T0 + timedelta(hours=1),
        "first_response_due": T0 + timedelta(hours=20),
        "first_response_at": T0 + timedelta(hours=2),
        "first_response_met": True,
        "sla_breached": False,
        "first_response_business_s": 3600.0,
        "first_response_wall_s": 3600.0,
        "customer_update_breaches": 0,
        "downgrades": 0,
        "reopens": 0,
        "resolved_at": T0 + timedelta(hours=5),
        "closed_at": T0 + timedelta(days=1),
        "survey_outcome": None,
        "survey_score": None,
        "record": "{}",
        "archived_at": T0 + timedelta(days=2),
    }
    return ClosedRow.from_row(row | fields)


def running(case_id: str, **fields: Any) -> OpenCase:
    values: dict[str, Any] = {
        "case_id": case_id,
        "tenant_id": "contoso",
        "category": "technical",
        "severity": "A",
        "status": "awaiting_first_response",
        "started_at": T0 + timedelta(days=6),
        "first_response_due": NOW + timedelta(hours=1),
        "sla_breached": False,
    }
    return OpenCase.model_validate(values | fields)


# -- pure ----------------------------------------------------------------------------------------


def test_an_empty_window_has_the_documented_shape_with_nulls() -> None:
    report = sla_report(WEEK, [], [], NOW).model_dump(mode="json")
    assert set(report["by_severity"]) == {"A", "B", "C"}
    assert set(report["by_category"]) == {"technical", "billing", "presales"}
    assert report["by_tenant"] == {}
    assert report["by_severity"]["A"] | {"csat": None} == {
        "cases": 0, "closed": 0, "running": 0, "running_answered": 0, "running_past_due": 0,
        "met": 0, "breached": 0, "open": 0, "unanswered": 0, "met_ratio": None,
        "first_response_business_s": {"p50": None, "p90": None},
        "first_response_wall_s": {"p50": None, "p90": None},
        "downgrades": 0, "reopens": 0, "customer_update_breaches": 0, "csat": None,
    }  # fmt: skip
    assert report["csat"] == {
        "sent": 0, "answered": 0, "no_answer": 0, "pending": 0, "response_rate": None,
        "mean_score": None, "scores": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }  # fmt: skip
    assert report["since"] == "2026-11-16T00:00:00Z" and report["until"] == "2026-11-23T00:00:00Z"
    assert (report["met_ratio"], report["open_past_due"], report["tenants"]) == (None, 0, None)


def test_cases_are_counted_by_when_they_were_opened() -> None:
    cases = [
        closed("before", opened_at=T0 - timedelta(seconds=1), created_at=T0 - timedelta(seconds=1)),
        closed("at-since", opened_at=T0),
        closed("late-opened", created_at=T0 - timedelta(hours=1), opened_at=T0 + timedelta(minutes=5)),
        closed("at-until", opened_at=WEEK.until),
        closed("refused", opened_at=None, first_response_met=None, status="refused", final_severity=None),
        closed("refused-before", opened_at=None, created_at=T0 - timedelta(days=1), status="refused"),
    ]
    report = sla_report(WEEK, cases, [], NOW)
    assert report.cases == 2, "since included, until excluded, opened (not created) in the window"
    assert report.not_opened == 1, "a refused case is no SLA case, counted apart by its creation"
    assert report.by_severity["B"].met == 2 and report.met_ratio == 1.0


def test_verdicts_of_closed_cases_and_ratios() -> None:
    cases = [
        closed("met-1"),
        closed("met-2", category="billing", tenant_id="fabrikam"),
        closed("late", first_response_met=False, sla_breached=True, first_response_business_s=60000.0),
        closed(  # never answered, its deadline passed before it closed: breached
            "silent-late", first_response_met=None, first_response_at=None, first_response_business_s=None,
            first_response_wall_s=None, status="closed_unresponsive", closed_at=T0 + timedelta(days=2),
        ),
        closed(  # never answered, closed unresponsive before its deadline: no verdict
            "silent-early", first_response_met=None, first_response_at=None, first_response_business_s=None,
            first_response_wall_s=None, status="closed_unresponsive", closed_at=T0 + timedelta(hours=10),
        ),
    ]  # fmt: skip
    report = sla_report(WEEK, cases, [], NOW)
    b = report.by_severity["B"]
    assert (b.cases, b.met, b.breached, b.unanswered, b.open) == (5, 2, 2, 1, 0)
    assert b.met_ratio == 0.5, "met / (met + breached): the unanswered case has no verdict"
    assert report.by_category["billing"].cases == 1 and report.by_category["presales"].met_ratio is None
    assert set(report.by_tenant) == {"contoso", "fabrikam"}
    assert report.by_tenant["fabrikam"].met_ratio == 1.0 and report.by_tenant["contoso"].met_ratio == 0.3333


def test_open_cases_past_their_deadline_are_breached_and_the_others_open() -> None:
    cases = [
        running("waiting-due", first_response_due=NOW - timedelta(minutes=1)),
        running("waiting-exactly-due", first_response_due=NOW),
        running("waiting", first_response_due=NOW + timedelta(minutes=1)),
        running("answered", status="in_progress", first_response_due=NOW - timedelta(hours=1)),
        running(  # a customer-update breach while the first response was answered in time
            "answered-update-late", status="in_progress", sla_breached=True,
            first_response_due=NOW + timedelta(hours=1),
        ),
        running(  # breached something after its deadline: visibility cannot tell which; breached
            "answered-breached", status="resolved", sla_breached=True,
            first_response_due=NOW - timedelta(hours=1),
        ),
        running("unverified", status="awaiting_verification", first_response_due=None),
        running("old", started_at=T0 - timedelta(days=1), first_response_due=NOW - timedelta(days=3)),
        running("survey-waiting", status="closed", severity="C"),
    ]  # fmt: skip
    report = sla_report(WEEK, [], cases, NOW)
    a = report.by_severity["A"]
    assert (a.cases, a.met, a.breached, a.open) == (6, 2, 3, 1)
    assert report.open_past_due == 2 and report.not_opened == 1
    assert report.by_severity["C"].met == 1
    assert (report.csat.sent, report.csat.pending, report.csat.response_rate) == (1, 1, None)


def test_a_case_both_archived_and_still_listed_running_counts_once_as_closed() -> None:
    report = sla_report(WEEK, [closed("x")], [running("x", started_at=T0 + timedelta(hours=1))], NOW)
    assert report.cases == 1 and report.by_severity["B"].met == 1 and report.by_severity["A"].cases == 0


@pytest.mark.parametrize(
    ("values", "p50", "p90"),
    [
        ([], None, None),
        ([7.0], 7.0, 7.0),
        ([1.0, 2.0], 1.0, 2.0),
        ([3.0, 1.0, 2.0, 4.0], 2.0, 4.0),
        ([float(v) for v in range(1, 11)], 5.0, 9.0),
        ([float(v) for v in range(1, 12)], 6.0, 10.0),
    ],
)
def test_percentiles_are_nearest_rank(values: list[float], p50: float | None, p90: float | None) -> None:
    assert (nearest_rank(values, 50), nearest_rank(values, 90)) == (p50, p90)


def test_first_response_percentiles_per_severity() -> None:
    cases = [closed(f"b{i}", first_response_business_s=float(i * 100)) for i in range(1, 11)]
    cases.append(closed("never", first_response_met=None, first_response_business_s=None, sla_breached=True))
    report = sla_report(WEEK, cases, [], NOW)
    assert report.by_severity["B"].first_response_business_s.model_dump() == {"p50": 500.0, "p90": 900.0}
    assert report.by_severity["A"].first_response_business_s.p50 is None


def test_satisfaction_counts_rate_mean_and_distribution() -> None:
    cases = [
        closed("s5", survey_outcome="answered", survey_score=5),
        closed("s4", survey_outcome="answered", survey_score=4),
        closed("s4b", survey_outcome="answered", survey_score=4, final_severity="C"),
        closed("silent", survey_outcome="no_answer"),
        closed("waiting", survey_outcome="pending"),
        closed("unresponsive", status="closed_unresponsive"),  # no survey sent
    ]
    csat = sla_report(WEEK, cases, [], NOW).csat
    assert (csat.sent, csat.answered, csat.no_answer, csat.pending) == (5, 3, 1, 1)
    assert csat.response_rate == 0.75, "answered / (answered + no_answer): pending surveys still wait"
    assert csat.mean_score == 4.33
    assert csat.scores == {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}
    assert sla_report(WEEK, cases, [], NOW).by_severity["C"].csat.mean_score == 4.0


def test_severity_is_the_one_in_force_at_the_first_response() -> None:
    history = {
        "severity_history": [
            {"at": "2026-11-16T01:00:00Z", "severity": "A", "previous": None},
            {"at": "2026-11-16T05:00:00Z", "severity": "B", "previous": "A"},  # downgraded after it
            {"at": "2026-11-16T09:00:00Z", "severity": "C", "previous": "B"},
        ]
    }
    record = json.dumps(history)
    answered = T0 + timedelta(hours=2)
    assert severity_at_first_response("C", answered, record) == "A"
    assert severity_at_first_response("C", T0 + timedelta(hours=6), record) == "B"
    assert severity_at_first_response("C", T0 + timedelta(hours=10), record) == "C"
    assert severity_at_first_response("C", None, record) == "C", "never answered: the final severity"
    assert severity_at_first_response("C", answered, "not json") == "C"
    case = closed("downgraded", final_severity="C", first_response_at=answered, record=record, downgrades=2)
    report = sla_report(WEEK, [case], [], NOW)
    assert report.by_severity["A"].met == 1 and report.by_severity["C"].cases == 0
    assert report.downgrades == 2


def test_tenant_scope() -> None:
    cases = [closed("c1"), closed("f1", tenant_id="fabrikam")]
    scoped = sla_report(WEEK, cases, [running("f2", tenant_id="fabrikam")], NOW, tenants=("contoso",))
    assert scoped.cases == 1 and set(scoped.by_tenant) == {"contoso"} and scoped.tenants == ["contoso"]
    assert sla_report(WEEK, cases, [], NOW, tenants=()).cases == 0
    portal = Principal(name="contoso-portal", role=Role.PORTAL, tenants=("contoso",))
    operator = Principal(name="ops", role=Role.OPERATOR)
    assert report_tenants(portal, None) == ("contoso",)
    assert report_tenants(portal, "fabrikam") == (), "another tenant: an empty report"
    assert report_tenants(operator, None) is None and report_tenants(operator, "fabrikam") == ("fabrikam",)


def test_a_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValidationError, match="until must be after since"):
        ReportWindow(since=T0, until=T0)
    with pytest.raises(ValidationError, match="timezone"):
        ReportWindow.model_validate({"since": "2026-11-16T00:00:00", "until": "2026-11-17T00:00:00Z"})


def test_csv_and_table_carry_every_group() -> None:
    report = sla_report(WEEK, [closed("c1", survey_outcome="answered", survey_score=5)], [], NOW)
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["dimension"], r["key"]) for r in rows] == [
        ("total", "all"), ("severity", "A"), ("severity", "B"), ("severity", "C"),
        ("category", "technical"), ("category", "billing"), ("category", "presales"), ("tenant", "contoso"),
    ]  # fmt: skip
    b = rows[2]
    assert (b["cases"], b["met"], b["met_ratio"], b["first_response_business_p50_s"]) == (
        "1",
        "1",
        "1.0",
        "3600.0",
    )
    assert (b["mean_score"], b["score_5"], rows[1]["met_ratio"]) == ("5.0", "1", ""), "null is an empty cell"
    table = report_table(report)
    assert "severity B" in table and "100.0%" in table and "1.0h" in table and "5:1" in table


# -- the database read ---------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    """SQLite and a real PostgreSQL (tests/postgres.py), the same code on both."""
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    closed_cases.create(engine, checkfirst=True)  # until the migration that makes it lands everywhere
    yield engine
    engine.dispose()


def insert_closed(engine: Engine, *cases: ClosedRow) -> None:
    with engine.begin() as connection:
        for case in cases:
            row = case.model_dump(exclude={"sla_severity"})
            row |= {"record": "{}", "archived_at": row["archived_at"] or NOW}
            row["customer_update_breaches"] = row["customer_update_breaches"] or 0
            connection.execute(insert(closed_cases).values(**row))


def test_closed_cases_in_a_window_and_a_tenant_scope_from_the_database(engine: Engine) -> None:
    insert_closed(
        engine,
        closed("in"),
        closed("in-fabrikam", tenant_id="fabrikam"),
        closed("before", opened_at=T0 - timedelta(seconds=1)),
        closed("refused", opened_at=None, first_response_met=None, final_severity=None),
        closed("end", opened_at=WEEK.until),
    )
    assert {c.case_id for c in closed_cases_in(engine, WEEK, None)} == {"in", "in-fabrikam", "refused"}
    found = closed_cases_in(engine, WEEK, ("contoso",))
    assert {c.case_id for c in found} == {"in", "refused"}
    assert closed_cases_in(engine, WEEK, ()) == []
    [case] = [c for c in found if c.case_id == "in"]
    assert case.opened_at == T0 + timedelta(hours=1) and case.opened_at.tzinfo is not None


def test_the_visibility_query_names_the_window_and_the_tenants() -> None:
    query = open_cases_query(WEEK, ("contoso", "fabrikam"))
    assert "StartTime >= '2026-11-16T00:00:00.000000Z'" in query
    assert "StartTime < '2026-11-23T00:00:00.000000Z'" in query
    assert "TenantId IN ('contoso', 'fabrikam')" in query and "ExecutionStatus = 'Running'" in query


# -- the API over real HTTP, and the CLI ------------------------------------------------------------


def recent(case_id: str, tenant: str, **fields: Any) -> ClosedRow:
    """A closed case opened an hour ago (the window of the API and CLI tests is around now)."""
    now = datetime.now(UTC)
    times = {
        "created_at": now - timedelta(hours=1),
        "opened_at": now - timedelta(hours=1),
        "first_response_due": now + timedelta(hours=10),
        "first_response_at": now - timedelta(minutes=50),
        "resolved_at": now - timedelta(minutes=40),
        "closed_at": now - timedelta(minutes=30),
        "archived_at": now - timedelta(minutes=20),
    }
    return closed(case_id, tenant_id=tenant, **(times | fields))


def around_now() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"since": (now - timedelta(days=1)).isoformat(), "until": (now + timedelta(days=1)).isoformat()}


@pytest.fixture
def stored(settings: Settings) -> Iterator[Engine]:
    """The stack's own database, with closed cases of two tenants."""
    engine = open_database(settings)
    closed_cases.create(engine, checkfirst=True)
    insert_closed(
        engine,
        recent("case-contoso.closed-1", "contoso", survey_outcome="answered", survey_score=5),
        recent("case-contoso.closed-2", "contoso", first_response_met=False, sla_breached=True),
        recent("case-fabrikam.closed-1", "fabrikam", survey_outcome="no_answer"),
    )
    yield engine
    engine.dispose()


async def test_the_api_report_per_role_and_tenant(
    dev_env: WorkflowEnvironment, settings: Settings, stored: Engine, request_id: str
) -> None:
    async with (  # the worker's gateway: it writes the console's projection, which reports read
        running_worker(dev_env.client, settings) as cases,
        api_client(dev_env.client, settings, cases) as http,
    ):
        opened = await http.post(
            "/cases", json=body(request_id, severity="C"), headers=as_key("contoso-portal")
        )
        assert opened.status_code == 201, opened.text
        window = around_now()
        report: dict[str, Any] = {}
        for _ in range(50):  # visibility is eventually consistent
            answer = await http.get("/reports/sla", params=window, headers=as_key("contoso-portal"))
            assert answer.status_code == 200, answer.text
            report = answer.json()
            if report["open"]:
                break
            await asyncio.sleep(0.1)
        assert set(report["by_tenant"]) == {"contoso"} and report["tenants"] == ["contoso"]
        assert (report["cases"], report["met"], report["breached"], report["open"]) == (3, 1, 1, 1)
        assert report["by_severity"]["C"]["open"] == 1 and report["met_ratio"] == 0.5
        assert report["csat"] | {"scores": None} == {
            "sent": 1, "answered": 1, "no_answer": 0, "pending": 0, "response_rate": 1.0,
            "mean_score": 5.0, "scores": None,
        }  # fmt: skip

        everything = (await http.get("/reports/sla", params=window, headers=as_key("ops"))).json()
        assert set(everything["by_tenant"]) == {"contoso", "fabrikam"} and everything["tenants"] is None
        assert everything["cases"] == 4 and everything["csat"]["response_rate"] == 0.5
        fabrikam = await http.get(
            "/reports/sla", params=window | {"tenant": "fabrikam"}, headers=as_key("ops")
        )
        assert fabrikam.json()["cases"] == 1 and set(fabrikam.json()["by_tenant"]) == {"fabrikam"}

        theirs = await http.get(
            "/reports/sla", params=window | {"tenant": "fabrikam"}, headers=as_key("contoso-portal")
        )
        assert theirs.status_code == 200, "another tenant: an empty report, as GET /cases answers []"
        assert (theirs.json()["cases"], theirs.json()["by_tenant"], theirs.json()["tenants"]) == (0, {}, [])

        agent = await http.get("/reports/sla", params=window, headers=as_key("li.wei"))
        assert agent.status_code == 403 and agent.json()["error"] == "forbidden"

        as_csv = await http.get(
            "/reports/sla", params=window | {"format": "csv"}, headers=as_key("contoso-portal")
        )
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        rows = {(r["dimension"], r["key"]): r for r in csv.DictReader(io.StringIO(as_csv.text))}
        assert rows[("tenant", "contoso")]["cases"] == "3" and ("tenant", "fabrikam") not in rows

        for params, field in (
            ({"since": "yesterday", "until": window["until"]}, "query.since"),
            ({"since": "2026-11-01T00:00:00", "until": window["until"]}, "query.since"),
            ({"since": "0001-01-01T00:00:00+05:00", "until": window["until"]}, "query.since"),
            ({"since": window["since"], "until": "9999-12-31T23:59:59-05:00"}, "query.until"),
            ({"since": window["until"], "until": window["since"]}, "query.until"),
            ({"since": window["since"]}, "query.until"),
            (window | {"format": "xml"}, "query.format"),
            (window | {"tenant": "x'y"}, "query.tenant"),
        ):
            bad = await http.get("/reports/sla", params=params, headers=as_key("ops"))
            assert bad.status_code == 422, (params, bad.text)
            assert [f["field"] for f in bad.json()["fields"]] == [field], bad.json()


async def test_the_cli_report_as_json_csv_and_table(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    stored: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "no-such-temporal.toml"))
    monkeypatch.setenv("CASEWORK_VAR", str(settings.var_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CASEWORK_ENCRYPTION_KEY", raising=False)
    window = around_now()

    async def report(*extra: str) -> tuple[int, str, str]:
        argv = ["report", "sla", "--since", window["since"], "--until", window["until"], *extra]
        code = await asyncio.to_thread(main, argv)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await report()
    assert code == 0, err
    answer = json.loads(out)
    assert answer["cases"] == 3 and set(answer["by_tenant"]) == {"contoso", "fabrikam"}, "the CLI is operator"
    assert answer["by_severity"]["B"] | {"csat": None} == {
        "cases": 3, "closed": 3, "running": 0, "running_answered": 0, "running_past_due": 0,
        "met": 2, "breached": 1, "open": 0, "unanswered": 0, "met_ratio": 0.6667,
        "first_response_business_s": {"p50": 3600.0, "p90": 3600.0},
        "first_response_wall_s": {"p50": 3600.0, "p90": 3600.0},
        "downgrades": 0, "reopens": 0, "customer_update_breaches": 0, "csat": None,
    }  # fmt: skip
    code, out, err = await report("--tenant", "fabrikam", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["dimension"] == "total" and rows[0]["cases"] == "1" and rows[0]["surveys_no_answer"] == "1"
    code, out, err = await report("--format", "table")
    assert code == 0, err
    assert out.startswith("SLA report: cases opened") and "tenant fabrikam" in out and "66.7%" in out
    assert "satisfaction: 2 sent, 1 answered, 1 no answer" in out

    code = await asyncio.to_thread(
        main, ["report", "sla", "--since", window["until"], "--until", window["since"]]
    )
    assert (code, capsys.readouterr().err.strip()) == (2, "--until: must be after --since")
    code = await asyncio.to_thread(
        main, ["report", "sla", "--since", "1900-01-01T00:00:00Z", "--until", window["until"]]
    )
    assert (code, capsys.readouterr().err.strip()) == (2, "--since: before 1970")


# -- metrics ----------------------------------------------------------------------------------------


async def test_the_workers_metrics_have_first_response_buckets_and_survey_counters(
    settings: Settings, request_id: str
) -> None:
    """A worker with METRICS_PORT (the runtime `make_runtime` builds for worker.py), on the
    time-skipping server: a B case answered after 5 h, resolved, closed, its survey answered."""
    with_metrics = settings.replace(metrics_port=free_port())
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_binary("temporal-test-server")),
        data_converter=pydantic_data_converter,
        runtime=make_runtime(with_metrics),
        test_server_startup_timeout=SERVER_STARTUP,
    )
    try:
        await register_case_search_attributes(env.client)
        # The server starts at the real clock: from Friday 16:00 UTC it is the weekend in Shanghai,
        # and 5 h then hold no business time at all. Open on a weekday morning there.
        now = (await env.get_current_time()).astimezone(SHANGHAI)
        morning = now.replace(hour=10, minute=0, second=0, microsecond=0)
        while morning <= now or morning.weekday() >= 5:
            morning += timedelta(days=1)
        await env.sleep(morning - now)
        async with skipping_clock(env), running_worker(env.client, with_metrics) as cases:
            opened = await cases.open(case_request(request_id, severity="B"))
            case_id = opened.case.case_id
            await env.sleep(timedelta(hours=5))
            await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking at it"))
            await cases.act(case_id, Resolution(engineer="li.wei", summary="Fixed"))
            await env.sleep(timedelta(days=7, minutes=1))
            await cases.act(case_id, SurveyAnswer(score=4))
            await env.sleep(timedelta(minutes=1))
            url = f"http://127.0.0.1:{with_metrics.metrics_port}/metrics"
            scraped = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    finally:
        await env.shutdown()
    lines = scraped.splitlines()
    for histogram in ("casework_time_to_first_response", "casework_business_time_to_first_response"):
        bounds = [
            line.split('le="')[1].split('"')[0]
            for line in lines
            if line.startswith(f"{histogram}_bucket{{") and 'severity="B"' in line
        ]
        assert bounds == [f"{b:g}" for b in FIRST_RESPONSE_BUCKETS] + ["+Inf"], (histogram, bounds)
        buckets = [line for line in lines if line.startswith(f"{histogram}_bucket{{")]
        counts = {b.split('le="')[1].split('"')[0]: b.rsplit(" ", 1)[1] for b in buckets}
        assert (counts["60"], counts["54000"], counts["+Inf"]) == ("0", "1", "1"), "5 h: below B's target"
    assert any(line.startswith("casework_surveys_sent{") and line.endswith(" 1") for line in lines), lines
    answered = [line for line in lines if line.startswith("casework_surveys_answered{")]
    assert len(answered) == 1 and 'score="4"' in answered[0] and answered[0].endswith(" 1"), answered

"""Closed cases in the database: the row derived from the final view (pure), written by the archive
activity once per case, left by cases run end to end on the time-skipping server, and exported as
JSON files. Every test that takes `database_url` runs on SQLite and on a real PostgreSQL server
(tests/postgres.py, whose time zone is not UTC).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.archive import ArchiveActivities
from adapters.closed_cases import export_closed_cases, read_closed_case, store_closed_case
from adapters.database import open_database, seed_directory
from adapters.schema import closed_cases
from adapters.settings import Settings
from bootstrap.cli import main
from support.case.actions import Cooperation, FirstResponse, ReopenRequest, Resolution, SurveyAnswer
from support.case.view import CaseView, Refusal, SeverityChange, Survey, SurveyOutcome
from support.policies.vocabulary import CaseStatus, Category, Severity
from support.reporting.closed_case import CaseArchive, ClosedCase, closed_case_row
from support.sla_clocks.clock_state import ClockState
from support.sla_clocks.clocks import ClockName, CycleResult, Segment, SlaClock
from tests.conftest import running_worker
from tests.requests import case_request

OPENED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
ARCHIVED = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
ENGINEER = "li.wei"


def base_view(**fields: Any) -> CaseView:
    values: dict[str, Any] = {
        "case_id": "case-contoso.r1",
        "request_id": "r1",
        "tenant_id": "contoso",
        "category": Category.TECHNICAL,
        "requested_severity": Severity.A,
        "title": "Exchange Online is down",
        "channel": "web",
        "language": "en",
        "created_at": OPENED - timedelta(seconds=2),
    }
    return CaseView(**(values | fields))


def clock(name: ClockName, **fields: Any) -> SlaClock:
    values: dict[str, Any] = {
        "name": name,
        "target": "1h",
        "business_time": timedelta(hours=1),
        "started_at": OPENED,
        "segments": [Segment(start=OPENED)],
        "due": OPENED + timedelta(hours=1),
    }
    return SlaClock(**(values | fields))


def opening(severity: Severity) -> SeverityChange:
    return SeverityChange(at=OPENED, severity=severity, previous=None, actor="system", reason="as requested")


def cycle(number: int, state: ClockState) -> CycleResult:
    return CycleResult(cycle=number, started_at=OPENED, due=OPENED, answered_at=None, state=state)


def answered_case() -> CaseView:
    """An A case answered on time, lowered by an engineer and then for lack of cooperation, with one
    customer update on time and one late, reopened once, closed, survey answered."""
    answered = OPENED + timedelta(minutes=40)
    return base_view(
        status=CaseStatus.CLOSED,
        severity=Severity.C,
        opened_at=OPENED,
        first_response=clock(
            ClockName.FIRST_RESPONSE,
            segments=[Segment(start=OPENED, end=answered)],
            state=ClockState.MET,
            answered_at=answered,
            answered_by=ENGINEER,
            business_time_to_answer=timedelta(minutes=40),
        ),
        customer_update=clock(
            ClockName.CUSTOMER_UPDATE,
            cycle=2,
            state=ClockState.BREACHED,  # the last cycle ran out before the case was resolved
            breached_at=OPENED + timedelta(hours=9),
            due=None,
            history=[cycle(0, ClockState.MET), cycle(1, ClockState.BREACHED)],
        ),
        sla_breached=True,
        severity_history=[
            opening(Severity.A),
            SeverityChange(
                at=OPENED + timedelta(hours=1),
                severity=Severity.B,
                previous=Severity.A,
                actor=ENGINEER,
                reason="x",
            ),
            SeverityChange(
                at=OPENED + timedelta(hours=2),
                severity=Severity.A,
                previous=Severity.B,
                actor=ENGINEER,
                reason="y",
            ),
            SeverityChange(
                at=OPENED + timedelta(hours=3),
                severity=Severity.B,
                previous=Severity.A,
                actor="system",
                reason="downgraded: no impact analysis",
            ),
            SeverityChange(
                at=OPENED + timedelta(hours=4),
                severity=Severity.C,
                previous=Severity.B,
                actor="system",
                reason="downgraded: no contacts",
            ),
        ],
        resolved_at=OPENED + timedelta(days=1),
        reopened_count=1,
        closed_at=OPENED + timedelta(days=8),
        survey=Survey(
            sent_at=OPENED + timedelta(days=8),
            reminder_at=None,
            expires_at=OPENED + timedelta(days=15),
            outcome=SurveyOutcome.ANSWERED,
            answered_at=OPENED + timedelta(days=9),
            score=4,
        ),
    )


# -- the row, from the final view (pure) ------


def test_a_case_answered_on_time_reports_what_happened_to_it() -> None:
    view = answered_case()
    row = closed_case_row(view, ARCHIVED)
    assert row.model_dump(exclude={"record", "policy_digest", "inputs", "by_assignee"}) == {
        "case_id": "case-contoso.r1",
        "tenant_id": "contoso",
        "category": "technical",
        "requested_severity": "A",
        "initial_severity": "A",
        "final_severity": "C",
        "status": "closed",
        "created_at": OPENED - timedelta(seconds=2),
        "opened_at": OPENED,
        "first_response_due": OPENED + timedelta(hours=1),
        "first_response_at": OPENED + timedelta(minutes=40),
        "first_response_met": True,
        "sla_breached": True,  # a customer update ran out, not the first response
        "first_response_business_s": 2400.0,
        "first_response_wall_s": 2400.0,
        "customer_update_breaches": 2,  # one finished cycle and the last one
        "downgrades": 2,  # the system's; the engineer's changes are not downgrades
        "reopens": 1,
        "resolved_at": OPENED + timedelta(days=1),
        "closed_at": OPENED + timedelta(days=8),
        "survey_outcome": "answered",
        "survey_score": 4,
        "archived_at": ARCHIVED,
        "first_response_severity": "A",  # answered at A: the changes came after
        "reopened_at": [],  # never reopened
    }
    assert CaseView.model_validate_json(row.record) == view, "the record is the whole final view"


def test_a_late_first_response_is_not_met_and_its_times_are_wall_and_business() -> None:
    answered = OPENED + timedelta(hours=30)  # over a weekend, say: business time is less
    view = base_view(
        status=CaseStatus.CLOSED,
        requested_severity=Severity.B,
        severity=Severity.B,
        opened_at=OPENED,
        first_response=clock(
            ClockName.FIRST_RESPONSE,
            target="1 business day",
            business_time=timedelta(hours=15),
            due=OPENED + timedelta(hours=15),
            segments=[Segment(start=OPENED, end=answered)],
            state=ClockState.BREACHED,
            breached_at=OPENED + timedelta(hours=15),
            answered_at=answered,
            business_time_to_answer=timedelta(hours=20),
        ),
        sla_breached=True,
        severity_history=[opening(Severity.B)],
        closed_at=OPENED + timedelta(days=9),
        survey=Survey(sent_at=OPENED, reminder_at=None, expires_at=OPENED, outcome=SurveyOutcome.NO_ANSWER),
    )
    row = closed_case_row(view, ARCHIVED)
    assert (row.first_response_met, row.sla_breached) == (False, True)
    assert (row.first_response_wall_s, row.first_response_business_s) == (30 * 3600.0, 20 * 3600.0)
    assert row.first_response_due == OPENED + timedelta(hours=15)
    assert (row.survey_outcome, row.survey_score) == ("no_answer", None)
    assert (row.customer_update_breaches, row.downgrades, row.reopens) == (0, 0, 0)


def test_a_case_never_answered_has_no_first_response_verdict_but_is_breached() -> None:
    view = base_view(
        status=CaseStatus.CLOSED_UNRESPONSIVE,
        severity=Severity.A,
        opened_at=OPENED,
        first_response=clock(  # stopped unanswered at the close: no deadline left
            ClockName.FIRST_RESPONSE,
            segments=[Segment(start=OPENED, end=OPENED + timedelta(hours=3))],
            due=None,
            state=ClockState.BREACHED,
            breached_at=OPENED + timedelta(hours=1),
        ),
        sla_breached=True,
        severity_history=[opening(Severity.A)],
        closed_at=OPENED + timedelta(hours=3),
    )
    row = closed_case_row(view, ARCHIVED)
    assert row.first_response_met is None and row.sla_breached
    assert row.first_response_at is None and row.first_response_due is None
    assert row.first_response_business_s is None and row.first_response_wall_s is None
    assert row.survey_outcome is None and row.status == "closed_unresponsive"


def test_a_refused_case_never_opened() -> None:
    view = base_view(
        status=CaseStatus.REFUSED,
        refusal=Refusal(code="not_admin", message="Only a tenant's administrators may open a case."),
    )
    row = closed_case_row(view, ARCHIVED)
    assert row.status == "refused"
    assert (row.initial_severity, row.final_severity, row.opened_at, row.closed_at) == (
        None,
        None,
        None,
        None,
    )
    assert (row.first_response_due, row.first_response_at, row.first_response_met) == (None, None, None)
    assert (row.sla_breached, row.customer_update_breaches, row.downgrades) == (False, 0, 0)


# -- the table ------


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    yield engine
    engine.dispose()


def rows(engine: Engine) -> list[ClosedCase]:
    with engine.connect() as connection:
        return [
            ClosedCase.model_validate(dict(row))
            for row in connection.execute(select(closed_cases).order_by(closed_cases.c.case_id)).mappings()
        ]


async def test_archiving_a_case_twice_leaves_one_row_with_its_latest_final_view(engine: Engine) -> None:
    activities = ArchiveActivities(engine)
    view = answered_case()
    env = ActivityEnvironment()
    assert await env.run(activities.archive_case, CaseArchive(**dict(view))) == view.case_id
    assert await env.run(activities.archive_case, CaseArchive(**dict(view))) == view.case_id  # a retry, say
    [row] = rows(engine)
    expected = closed_case_row(view, row.archived_at)
    assert row == expected, "every column reads back as written: aware UTC times, booleans, floats"
    assert row.archived_at.tzinfo is UTC and row.opened_at is not None and row.opened_at.tzinfo is UTC
    assert read_closed_case(engine, view.case_id) == view

    assert view.survey is not None
    later = view.model_copy(update={"survey": view.survey.model_copy(update={"score": 5})}, deep=True)
    await env.run(activities.archive_case, CaseArchive(**dict(later)))
    [row] = rows(engine)
    assert row.survey_score == 5 and read_closed_case(engine, view.case_id) == later
    assert read_closed_case(engine, "case-contoso.nothing") is None


def test_times_in_other_zones_are_stored_as_the_same_instants(engine: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    view = answered_case().model_copy(update={"opened_at": OPENED.astimezone(shanghai)})
    store_closed_case(engine, closed_case_row(view, ARCHIVED.astimezone(shanghai)))
    [row] = rows(engine)
    assert row.opened_at == OPENED and row.opened_at is not None and row.opened_at.utcoffset() == timedelta(0)
    with engine.connect() as connection:
        found = connection.execute(
            select(closed_cases.c.case_id).where(closed_cases.c.opened_at >= OPENED.astimezone(shanghai))
        ).all()
    assert len(found) == 1, "a bound time in another zone compares as the instant it is"


def test_two_workers_archiving_the_same_case_at_once_leave_one_row(engine: Engine) -> None:
    row = closed_case_row(answered_case(), ARCHIVED)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def archive() -> None:
        try:
            start.wait()
            store_closed_case(engine, row)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=archive) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(closed_cases)).scalar() == 1


# -- export ------


def three_cases(engine: Engine) -> None:
    first = answered_case()  # contoso, closed OPENED + 8 days
    second = base_view(
        case_id="case-fabrikam.r2",
        request_id="r2",
        tenant_id="fabrikam",
        status=CaseStatus.CLOSED,
        closed_at=OPENED + timedelta(days=20),
    )
    refused = base_view(  # never closed: it ended when it was created
        case_id="case-contoso.r3",
        request_id="r3",
        status=CaseStatus.REFUSED,
        created_at=OPENED + timedelta(days=10),
    )
    for view in (first, second, refused):
        store_closed_case(engine, closed_case_row(view, ARCHIVED))


def test_export_writes_one_file_per_case_that_ended_in_the_window(engine: Engine, tmp_path: Path) -> None:
    three_cases(engine)
    everything = tmp_path / "all"
    written = export_closed_cases(engine, everything)
    assert [p.name for p in written] == [
        "case-contoso.r1.json",
        "case-contoso.r3.json",
        "case-fabrikam.r2.json",
    ]
    record = json.loads((everything / "case-contoso.r1.json").read_text(encoding="utf-8"))
    assert CaseView.model_validate(record) == answered_case()
    assert export_closed_cases(engine, everything) == written, "again: the same files"
    assert sorted(p.name for p in everything.iterdir()) == [p.name for p in written], "no temporary left"

    since, until = OPENED + timedelta(days=9), OPENED + timedelta(days=20)
    window = export_closed_cases(engine, tmp_path / "window", since, until)
    assert [p.name for p in window] == ["case-contoso.r3.json"], "until is excluded; refused: by creation"
    tenant = export_closed_cases(engine, tmp_path / "tenant", tenant="fabrikam")
    assert [p.name for p in tenant] == ["case-fabrikam.r2.json"]


def test_starter_archive_export(
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    three_cases(engine)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CASEWORK_VAR", str(tmp_path / "var"))
    out = tmp_path / "export"
    args = [
        "archive",
        "export",
        "--since",
        "2026-11-30T00:00:00+08:00",
        "--tenant",
        "contoso",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == {"exported": 2, "directory": str(out)}
    assert sorted(p.name for p in out.iterdir()) == ["case-contoso.r1.json", "case-contoso.r3.json"]
    with pytest.raises(SystemExit) as refused:
        main(["archive", "export", "--since", "2026-11-30", "-o", str(out)])
    assert refused.value.code == 2
    assert "has no UTC offset" in capsys.readouterr().err


# -- end to end on the time-skipping server ------


def on(settings: Settings, database_url: str) -> Settings:
    """The test's settings on `database_url`, with the demo directory in it."""
    if database_url.startswith("sqlite"):
        return settings  # the fixture's own SQLite file, already seeded
    moved = settings.replace(database_url=database_url)
    seed_directory(moved, moved.directory_path)
    return moved


def closed_row(settings: Settings, case_id: str) -> ClosedCase:
    engine = open_database(settings)
    try:
        [row] = [r for r in rows(engine) if r.case_id == case_id]
        return row
    finally:
        engine.dispose()


async def test_a_c_case_answered_in_time_reopened_and_rated_leaves_its_row(
    time_env: WorkflowEnvironment, settings: Settings, database_url: str, request_id: str
) -> None:
    settings = on(settings, database_url)
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="C"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Looking into it"))
        await cases.act(case_id, Resolution(engineer=ENGINEER, summary="Cache cleared"))
        await time_env.sleep(timedelta(days=2))
        await cases.act(case_id, ReopenRequest(requester="admin@contoso.example", reason="It is back"))
        await cases.act(case_id, Resolution(engineer=ENGINEER, summary="Profile rebuilt"))
        await time_env.sleep(timedelta(days=7, minutes=1))
        await cases.act(case_id, SurveyAnswer(score=4, comment="Quick, thanks"))
        await time_env.sleep(timedelta(days=8))
        final = await cases.show(case_id)
    row = closed_row(settings, case_id)
    assert final.status is CaseStatus.CLOSED and row.status == "closed"
    assert (row.tenant_id, row.category, row.requested_severity) == ("contoso", "technical", "C")
    assert (row.initial_severity, row.final_severity) == ("C", "C")
    assert (row.first_response_met, row.sla_breached) == (True, False)
    assert row.first_response_at is not None and row.first_response_due is not None
    assert row.first_response_at <= row.first_response_due
    assert row.first_response_wall_s is not None and row.first_response_business_s is not None
    assert (row.customer_update_breaches, row.downgrades, row.reopens) == (0, 0, 1)
    assert (row.survey_outcome, row.survey_score) == ("answered", 4)
    assert row.opened_at == final.opened_at and row.closed_at == final.closed_at
    assert row.resolved_at == final.resolved_at
    # the record is the case as it was shown, the request's words included: they outlive the
    # workflow's retention with it
    assert CaseView.model_validate_json(row.record) == final and final.request is not None


async def test_an_a_case_answered_late_and_downgraded_leaves_its_row(
    time_env: WorkflowEnvironment, settings: Settings, database_url: str, request_id: str
) -> None:
    settings = on(settings, database_url)
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="A"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="reachable_contacts", details="Wang Fang, 24x7"))
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await time_env.sleep(timedelta(minutes=70))  # A: first response within 1 hour, 24x7
        await cases.act(case_id, FirstResponse(engineer=ENGINEER, message="Sorry for the wait"))
        await time_env.sleep(timedelta(minutes=55))  # no impact analysis in 2 hours: A -> B
        assert (await cases.show(case_id)).severity is Severity.B
        await cases.act(case_id, Resolution(engineer=ENGINEER, summary="Mail flows again"))
        await time_env.sleep(timedelta(days=15))  # reopen window, then the survey's wait: no answer
        final = await cases.show(case_id)
    row = closed_row(settings, case_id)
    assert final.status is CaseStatus.CLOSED
    assert (row.initial_severity, row.final_severity, row.downgrades, row.reopens) == ("A", "B", 1, 0)
    assert (row.first_response_met, row.sla_breached) == (False, True)
    assert row.first_response_wall_s is not None and row.first_response_wall_s >= 70 * 60
    assert row.first_response_due is not None and row.opened_at is not None
    assert row.first_response_due == row.opened_at + timedelta(hours=1)
    assert row.customer_update_breaches == 0
    assert (row.survey_outcome, row.survey_score) == ("no_answer", None)


def test_counts_include_what_the_bounded_view_no_longer_lists() -> None:
    """A long case keeps only its recent severity changes and update cycles: the row still counts
    every downgrade and every breached customer-update cycle the view has trimmed away."""
    view = answered_case()
    assert view.customer_update is not None
    many_cycles = [cycle(n, ClockState.BREACHED if n % 2 else ClockState.MET) for n in range(60)]
    view.customer_update = view.customer_update.model_copy(update={"history": many_cycles})
    flips = [
        SeverityChange(
            at=OPENED + timedelta(hours=5, minutes=n),
            severity=Severity.A if n % 2 else Severity.C,
            previous=Severity.C if n % 2 else Severity.A,
            actor="system" if not n % 2 else ENGINEER,
            reason="flip",
        )
        for n in range(40)
    ]
    view.severity_history += flips
    full = closed_case_row(view, ARCHIVED)
    view.keep_bounded()
    assert view.customer_update is not None and len(view.customer_update.history) < 60
    assert len(view.severity_history) < 45
    trimmed = closed_case_row(view, ARCHIVED)
    assert (trimmed.downgrades, trimmed.customer_update_breaches) == (
        full.downgrades,
        full.customer_update_breaches,
    )
    assert (full.downgrades, full.customer_update_breaches) == (2 + 20, 30 + 1)

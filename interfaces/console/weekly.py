"""The console's report of a range: the range's SLA report (open beside closed, per severity and
category), the first-response met ratio per week of the range and severity, and the satisfaction
figures; as a chart (inline SVG, drawn on the server) and as CSV. Every figure is
`support.reporting.reports.sla_report` over rows read once (`application.reports.report_rows`): the same count
the
API and the CLI give for the same window."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from temporalio.client import Client

from application.reports import report_rows
from support.policies.vocabulary import Severity
from support.reporting.reports import Csat, ReportWindow, SlaReport

SEVERITIES = tuple(s.value for s in Severity)
CHART_HEIGHT = 160
BAR = 14
GAP = 22


@dataclass(frozen=True)
class WeekBar:
    severity: str
    cases: int
    met: int
    breached: int
    ratio: float | None
    x: int
    height: int


@dataclass(frozen=True)
class Week:
    since: datetime
    day: date  # the week's first day in the reader's zone
    bars: tuple[WeekBar, ...]
    x: int


@dataclass(frozen=True)
class Weekly:
    weeks: tuple[Week, ...]
    csat: Csat
    width: int
    tenants: list[str] | None
    whole: SlaReport


def week_windows(window: ReportWindow) -> list[ReportWindow]:
    """Seven-day windows from the range's start, the last one cut at its end."""
    found = []
    since = window.since
    while since < window.until:
        until = min(since + timedelta(weeks=1), window.until)
        found.append(ReportWindow(since=since, until=until))
        since = until
    return found


def chart(
    reports: Sequence[SlaReport], starts: Sequence[datetime], whole: SlaReport, zone: str = "UTC"
) -> Weekly:
    """Bars of met / (met + breached) per week and severity; a group with no verdict has no bar."""
    weeks = []
    group_width = len(SEVERITIES) * BAR + GAP
    for index, (report, since) in enumerate(zip(reports, starts, strict=True)):
        left = 40 + index * group_width
        bars = []
        for offset, severity in enumerate(SEVERITIES):
            group = report.by_severity.get(severity)
            ratio = group.met_ratio if group is not None else None
            bars.append(
                WeekBar(
                    severity=severity,
                    cases=group.cases if group is not None else 0,
                    met=group.met if group is not None else 0,
                    breached=group.breached if group is not None else 0,
                    ratio=ratio,
                    x=left + offset * BAR,
                    height=round((ratio or 0.0) * CHART_HEIGHT),
                )
            )
        day = since.astimezone(ZoneInfo(zone)).date()
        weeks.append(Week(since=since, day=day, bars=tuple(bars), x=left))
    return Weekly(
        weeks=tuple(weeks),
        csat=whole.csat,
        width=max(40 + len(weeks) * group_width, 160),  # the legend's room
        tenants=whole.tenants,
        whole=whole,
    )


async def weekly(
    engine: Engine,
    client: Client,
    tenants: tuple[str, ...] | None,
    now: datetime,
    window: ReportWindow,
    zone: str = "UTC",
) -> Weekly:
    """The range's report and each week's, from one read of the range's rows."""
    rows = await report_rows(engine, client, window, tenants, now)
    weeks = week_windows(window)
    reports = [rows.report(w, tenants, now) for w in weeks]
    return chart(reports, [w.since for w in weeks], rows.report(window, tenants, now), zone)


def weekly_csv(report: Weekly) -> str:
    """One row per week and severity, then the satisfaction figures of the whole span."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["week_start", "severity", "cases", "met", "breached", "met_ratio"])
    for week in report.weeks:
        for bar in week.bars:
            ratio = "" if bar.ratio is None else f"{bar.ratio:.4f}"
            writer.writerow([week.day.isoformat(), bar.severity, bar.cases, bar.met, bar.breached, ratio])
    csat = report.csat
    writer.writerow([])
    writer.writerow(["surveys_sent", "answered", "no_answer", "pending", "response_rate", "mean_score"])
    writer.writerow(
        [
            csat.sent,
            csat.answered,
            csat.no_answer,
            csat.pending,
            "" if csat.response_rate is None else csat.response_rate,
            "" if csat.mean_score is None else csat.mean_score,
        ]
    )
    return out.getvalue()

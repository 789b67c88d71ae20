"""The console's report: first-response met ratio per week and severity, and the satisfaction
figures, from the SLA report (`intake.reports`, `support.reports`) of each week; as a chart (inline
SVG, drawn on the server) and as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from temporalio.client import Client

from intake.reports import build_sla_report
from support.reports import Csat, ReportWindow, SlaReport
from support.vocabulary import Severity

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
    bars: tuple[WeekBar, ...]
    x: int


@dataclass(frozen=True)
class Weekly:
    weeks: tuple[Week, ...]
    csat: Csat
    width: int
    tenants: list[str] | None


def week_starts(now: datetime, weeks: int) -> list[datetime]:
    """Mondays 00:00 UTC, the oldest first, the last one the current week."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def chart(reports: Sequence[SlaReport], starts: Sequence[datetime], whole: SlaReport) -> Weekly:
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
        weeks.append(Week(since=since, bars=tuple(bars), x=left))
    return Weekly(
        weeks=tuple(weeks), csat=whole.csat, width=40 + len(weeks) * group_width, tenants=whole.tenants
    )


async def weekly(
    engine: Engine, client: Client, tenants: tuple[str, ...] | None, now: datetime, weeks: int
) -> Weekly:
    """Each week's report and the whole span's (for satisfaction), read concurrently."""
    starts = week_starts(now, weeks)
    windows = [ReportWindow(since=s, until=s + timedelta(weeks=1)) for s in starts]
    whole = ReportWindow(since=starts[0], until=starts[-1] + timedelta(weeks=1))
    *reports, total = await asyncio.gather(
        *(build_sla_report(engine, client, w, tenants, now) for w in [*windows, whole])
    )
    return chart(reports, starts, total)


def weekly_csv(report: Weekly) -> str:
    """One row per week and severity, then the satisfaction figures of the whole span."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["week_start", "severity", "cases", "met", "breached", "met_ratio"])
    for week in report.weeks:
        for bar in week.bars:
            ratio = "" if bar.ratio is None else f"{bar.ratio:.4f}"
            writer.writerow(
                [week.since.date().isoformat(), bar.severity, bar.cases, bar.met, bar.breached, ratio]
            )
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

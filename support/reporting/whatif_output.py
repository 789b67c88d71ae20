"""The what-if for people and spreadsheets: a side-by-side table (in the reader's language, from
templates/whatif/<language>.toml, handed in as `phrases`), CSV and JSON. Pure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime

from support.policies.versions import short
from support.reporting.reports import Group
from support.reporting.whatif import WhatIfReport


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:.1f}h"


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.1f}%"


def _at(value: datetime | None, never: str) -> str:
    return never if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _cells(g: Group) -> list[str]:
    bus = g.first_response_business_s
    return [str(g.cases), str(g.met), str(g.breached), _percent(g.met_ratio), _hours(bus.p50),
            _hours(bus.p90), str(g.downgrades)]  # fmt: skip


def whatif_table(report: WhatIfReport, phrases: Mapping[str, str]) -> str:
    scope = phrases["scope_all"] if report.tenants is None else ", ".join(report.tenants)
    in_force = ", ".join(short(d) for d in report.policies_in_force) or "-"
    lines = [
        phrases["title"].format(since=report.since.isoformat(), until=report.until.isoformat(), scope=scope),
        phrases["versions"].format(
            in_force=in_force,
            proposed=report.proposed_policy.version,
            digest=short(report.proposed_policy.digest),
        ),
        phrases["counts"].format(redecided=report.redecided, kept=report.kept_as_recorded),
        phrases["legend"],
        "",
    ]
    names = ("group", "cases", "met", "breached", "met_ratio", "p50", "p90", "downgrades")
    table = [tuple(phrases[n] for n in names)]
    for pair in report.groups:
        label = "total" if pair.dimension == "total" else f"{pair.dimension} {pair.key}"
        before, after = _cells(pair.in_force), _cells(pair.proposed)
        changed = (b if b == a else f"{b} -> {a}" for b, a in zip(before, after, strict=True))
        table.append((label, *changed))
    widths = [max(len(row[i]) for row in table) for i in range(len(names))]
    for row in table:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines.append("")
    if not report.flips:
        lines.append(phrases["no_flips"])
    else:
        lines.append(phrases["flips"].format(count=len(report.flips)))
    for flip in report.flips:
        lines.append(
            phrases["flip"].format(
                case=flip.case_id,
                severity=flip.severity,
                category=flip.category,
                digest=short(flip.policy_digest),
                in_force=flip.in_force,
                proposed=flip.proposed,
                answered=_at(flip.first_response_at, phrases["never"]),
                due_in_force=_at(flip.due_in_force, phrases["never"]),
                due_proposed=_at(flip.due_proposed, phrases["never"]),
            )
        )
        segment = flip.segment
        if segment is not None:
            lines.append(
                phrases["segment"].format(
                    kind=segment.kind.value,
                    start=_at(segment.start, phrases["never"]),
                    end=_at(segment.end, phrases["never"]),
                    seconds=_hours(segment.business_seconds),
                    assignee=segment.assignee or phrases["nobody"],
                )
            )
    return "\n".join(lines)


CSV_COLUMNS = ("dimension", "key", "policy", "cases", "met", "breached", "met_ratio",
               "first_response_business_p50_s", "first_response_business_p90_s", "downgrades")  # fmt: skip


def whatif_csv(report: WhatIfReport) -> str:
    """Two lines per group (in_force, proposed); empty cells are nulls."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for pair in report.groups:
        for policy, g in (("in_force", pair.in_force), ("proposed", pair.proposed)):
            bus = g.first_response_business_s
            cells = [pair.dimension, pair.key, policy, g.cases, g.met, g.breached, g.met_ratio,
                     bus.p50, bus.p90, g.downgrades]  # fmt: skip
            writer.writerow(["" if v is None else v for v in cells])
    return out.getvalue()


def whatif_json(report: WhatIfReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)

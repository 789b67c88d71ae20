"""`starter.py console reproject`: write the console's row of every open case from the case itself.

The projection (adapters.console_cases) is written when a case is opened, acted on or read; cases
opened before it existed (an upgrade) have no row until then. This reads each open case once through
the gateway (`Cases.show`, which projects what it reads), a page of Temporal's visibility at a time.
Safe to run again at any time: a row is overwritten with the case as it stands.
"""

from __future__ import annotations

import argparse
from typing import Any

from intake.case_listing import OPEN_STATUSES, CaseFilter
from intake.cases import CaseNotFound, Cases, Unavailable

PAGE = 200


async def reproject(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    written = skipped = 0
    cursor: str | None = None
    while True:
        page = await cases.page(CaseFilter(statuses=OPEN_STATUSES), cursor=cursor, limit=PAGE)
        for summary in page.cases:
            try:
                await cases.show(summary.case_id)
                written += 1
            except (CaseNotFound, Unavailable):
                skipped += 1  # gone, or its worker is busy: its next action or read projects it
        cursor = page.next_cursor
        if cursor is None:
            break
    print(f"console projection: {written} open cases written, {skipped} skipped (read them again later)")

"""`starter.py console reproject`: write the console's row of every open case from the case itself.

The projection (adapters.console_cases) is written when a case is opened, acted on or read; cases
opened before it existed (an upgrade) have no row until then. This reads each open case through the
gateway (`Cases.show`, which projects what it reads), a page of Temporal's visibility at a time; a
case that does not answer (its worker busy) is asked again after the others, twice. Safe to run
again at any time: a row is overwritten with the case as it stands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from application.case_listing import OPEN_STATUSES, CaseFilter
from application.cases import CaseNotFound, Cases, Unavailable

PAGE = 200
AGAIN = 2  # more passes over the cases that did not answer
PAUSE_S = 2.0


async def reproject(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    listed: list[str] = []
    cursor: str | None = None
    while True:
        page = await cases.page(CaseFilter(statuses=OPEN_STATUSES), cursor=cursor, limit=PAGE)
        listed += [summary.case_id for summary in page.cases]
        cursor = page.next_cursor
        if cursor is None:
            break
    waiting, written = listed, 0
    for attempt in range(1 + AGAIN):
        if attempt:
            await asyncio.sleep(PAUSE_S)
        left: list[str] = []
        for case_id in waiting:
            try:
                await cases.show(case_id)
                written += 1
            except CaseNotFound:
                pass  # gone since it was listed
            except Unavailable as error:
                left.append(case_id)
                if attempt == AGAIN:
                    print(f"{case_id}: not written: {error}", file=sys.stderr)
        waiting = left
    print(f"console projection: {written} open cases written, {len(waiting)} did not answer (run it again)")

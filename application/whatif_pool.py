"""The what-if's re-runs on every core: a long what-if (`POOL_FROM` cases or more) is shared
among `processes` child processes (spawned: no copy of the API's threads and connections), each
re-running its share through the pure machine (`support.reporting.whatif.rerun_all`) under the proposed
policy, which it parses once from the text. The caller waits in a thread, so the event loop of the
API and the console goes on serving while the children use the cores; a short what-if runs in
that thread alone (starting the children costs more than it saves).

The outcomes are the same whichever way they were made: each case's re-run depends on that case
alone (tests/system/test_whatif.py checks the pool against the thread)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from functools import lru_cache

from adapters.country_holidays import expand_policy, snapshot_years
from support.policies.policy import Policy, parse_policy
from support.policies.versions import policy_digest
from support.reporting.whatif import Outcome, WhatIfCase, rerun_all

POOL_FROM = 2000  # cases; fewer take seconds in one thread (the children take about 3 s to start)
SHARES_PER_PROCESS = 4  # smaller shares even out the children's finishing times


def default_processes() -> int:
    """`CASEWORK_WHATIF_PROCESSES`, else the cores this process may use."""
    configured = os.environ.get("CASEWORK_WHATIF_PROCESSES", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(len(os.sched_getaffinity(0)), 1)


class _Proposed:
    """The proposed policy in a child: parsed once per text, snapshotted once per year."""

    def __init__(self, text: str) -> None:
        self.policy = parse_policy(text, "proposed policy")
        self.digest = policy_digest(self.policy)
        self._years: dict[int, Policy] = {}

    def snapshot(self, year: int) -> Policy:
        if year not in self._years:
            self._years[year] = expand_policy(self.policy, snapshot_years(year))
        return self._years[year]


@lru_cache(maxsize=2)
def _proposed(text: str) -> _Proposed:
    return _Proposed(text)


def _share(text: str, cases: Sequence[WhatIfCase], now: datetime) -> list[Outcome | None]:
    """A child's share (a top-level function: the pool pickles its name)."""
    proposed = _proposed(text)
    return rerun_all(cases, proposed.snapshot, proposed.digest, now)


def rerun_in_pool(
    text: str, cases: Sequence[WhatIfCase], now: datetime, processes: int
) -> list[Outcome | None]:
    """Each case's outcome, in the order of `cases`, made by `processes` children (blocking: call it
    from a thread)."""
    shares = max(processes * SHARES_PER_PROCESS, 1)
    size = -(-len(cases) // shares)
    chunks = [list(cases[i : i + size]) for i in range(0, len(cases), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        done = pool.map(_share, [text] * len(chunks), chunks, [now] * len(chunks))
        return [outcome for chunk in done for outcome in chunk]

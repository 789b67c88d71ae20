"""The policy file as a case's snapshot: parsed, validated, its country holidays written out."""

from __future__ import annotations

import functools
from pathlib import Path

from adapters.country_holidays import expand_policy, snapshot_years
from support.policy import Policy, PolicyError, parse_policy


def load_policy_snapshot(path: Path, opened_year: int) -> Policy:
    """The policy file with country holidays written out for the years a case can reach.

    The file is read for every case; a text seen before reuses its snapshot: parsing and expanding
    holidays costs milliseconds of the event loop per case, which a burst of openings feels."""
    return _snapshot(path, path.read_text(encoding="utf-8"), opened_year)


@functools.lru_cache(maxsize=16)
def _snapshot(path: Path, text: str, opened_year: int) -> Policy:
    policy = parse_policy(text, str(path))
    try:
        return expand_policy(policy, snapshot_years(opened_year))
    except ValueError as error:
        raise PolicyError(f"{path}: {error}") from None

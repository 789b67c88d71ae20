"""The policy file as a case's snapshot: parsed, validated, its country holidays written out."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from adapters.country_holidays import expand_policy, snapshot_years
from support.policies.policy import Policy, PolicyError, parse_policy
from support.policies.versions import policy_digest


class LoadedPolicy(NamedTuple):
    snapshot: Policy
    digest: str  # support.policies.versions.policy_digest of the file's policy
    text: str


def load_policy_version(path: Path, opened_year: int) -> LoadedPolicy:
    """The snapshot, the version's digest and the file's text (what policy_versions records)."""
    text = _read(path)
    return LoadedPolicy(_snapshot(path, text, opened_year), _digest(path, text), text)


@functools.lru_cache(maxsize=16)
def _digest(path: Path, text: str) -> str:
    return policy_digest(parse_policy(text, str(path)))


def load_policy_snapshot(path: Path, opened_year: int) -> Policy:
    """The policy file with country holidays written out for the years a case can reach.

    The file is read for every case; a text seen before reuses its snapshot: parsing and expanding
    holidays costs milliseconds of the event loop per case, which a burst of openings feels.
    A file that cannot be read or used is a PolicyError naming the file (and the table and field)."""
    return _snapshot(path, _read(path), opened_year)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise PolicyError(f"{path}: cannot be read ({reason})") from None


@functools.lru_cache(maxsize=16)
def _snapshot(path: Path, text: str, opened_year: int) -> Policy:
    policy = parse_policy(text, str(path))
    try:
        return expand_policy(policy, snapshot_years(opened_year))
    except ValueError as error:
        raise PolicyError(f"{path}: {error}") from None


def policy_problem(path: Path) -> str | None:
    """Why the policy file cannot be used now (its own error: file, table, field), or None when it
    can. What `/healthz` and the worker's log say: openings wait, undecided, while it is bad."""
    try:
        load_policy_snapshot(path, datetime.now(UTC).year)
    except PolicyError as error:  # named by the file's name: callers of the API see it too
        return str(error).splitlines()[0].replace(str(path), path.name, 1)
    return None

"""Policy versions: a policy's digest, the name every case, ledger and what-if cites it by.

The digest is the SHA-256 of the parsed policy's canonical JSON (keys sorted, before country
holidays are written out), so a comment or a reordered table is the same version and any change to
a rule is a new one. Pure: the adapter (adapters/policy_versions.py) records each version's file.
"""

from __future__ import annotations

import difflib
import hashlib
import json

from support.policies.policy import Policy

SHORT = 12  # hex digits people read and type (`starter.py policy diff 3f2a9c1b0d4e ...`)


def policy_digest(policy: Policy) -> str:
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def short(digest: str | None) -> str:
    return "-" if digest is None else digest[:SHORT]


def text_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two policy files' texts (empty when they are the same text)."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name, n=2
        )
    )


def rule_diff(old: Policy, new: Policy) -> list[str]:
    """What changed between two policies, table by table: `[severities.A] first_response: 1h -> 30m`."""
    lines: list[str] = []
    flat_old, flat_new = _flat(old.model_dump(mode="json")), _flat(new.model_dump(mode="json"))
    for key in sorted(flat_old.keys() | flat_new.keys()):
        before, after = flat_old.get(key, "(none)"), flat_new.get(key, "(none)")
        if before != after:
            lines.append(f"{key}: {before} -> {after}")
    return lines


def _flat(value: object, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            out |= _flat(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: json.dumps(value, ensure_ascii=False)}

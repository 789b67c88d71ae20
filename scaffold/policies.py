"""Fast policies for tests and benchmarks: the real policy.toml with targets of seconds on 24x7 calendars.

Built from the validated `Policy` model (`model_copy(update=...)`) and validated again as a whole;
`fast_policy` writes it as TOML for the worker processes that read a policy file (CASEWORK_POLICY).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.settings import PROJECT_ROOT
from support.policies.durations import parse_duration
from support.policies.policy import Policy, parse_policy, policy_from_dict
from support.policies.targets import Target

FAST_CALENDAR = "always"  # open 24x7: a test's seconds are business seconds


def fast_policy_model(
    first_response: str = "30s",
    report_late_after: str = "1m",
    delivery_max_interval: str = "10m",
    base: Policy | None = None,
) -> Policy:
    """`base` (the project's policy.toml) with every severity on the 24x7 calendar, a first response
    due after `first_response`, an hour for updates, follow-ups and cooperation (no obligations at
    the start), a reopen window of a second and a survey that waits three seconds (a reminder at two)."""
    policy = base or parse_policy((PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8"))
    hour = Target.model_validate("1h")
    severities = {
        severity: rule.model_copy(
            update={
                "first_response": Target.model_validate(first_response),
                "calendar": FAST_CALENDAR,
                "customer_update": hour,
                "idle_follow_up": hour,
                "cooperation_due": hour,
                "obligations": [],
            }
        )
        for severity, rule in policy.severities.items()
    }
    categories = {
        category: rule.model_copy(update={"calendar": FAST_CALENDAR}) if rule.calendar is not None else rule
        for category, rule in policy.categories.items()
    }
    fast = policy.model_copy(
        update={
            "severities": severities,
            "categories": categories,
            "sla": policy.sla.model_copy(update={"report_late_after": parse_duration(report_late_after)}),
            "delivery": policy.delivery.model_copy(
                update={"max_interval": parse_duration(delivery_max_interval)}
            ),
            "resolution": policy.resolution.model_copy(update={"reopen_window": parse_duration("1s")}),
            "survey": policy.survey.model_copy(
                update={"wait": parse_duration("3s"), "reminder_after": parse_duration("2s")}
            ),
        }
    )
    # model_copy does not validate: the whole policy is validated again, as a policy file would be.
    return policy_from_dict(fast.model_dump(mode="json"), "fast policy")


def fast_policy(
    directory: Path,
    first_response: str = "30s",
    report_late_after: str = "1m",
    delivery_max_interval: str = "10m",
) -> Path:
    """The fast policy as a file in `directory` (a worker reads its policy from a file); a test or
    benchmark sets the few values it is about."""
    policy = fast_policy_model(first_response, report_late_after, delivery_max_interval)
    path = directory / "fast-policy.toml"
    path.write_text(policy_toml(policy), encoding="utf-8")
    return path


def policy_toml(policy: Policy) -> str:
    """The policy as TOML that `parse_policy` reads back to an equal policy: one line per table,
    values left at their defaults left out (TOML has no null)."""
    data = policy.model_dump(mode="json", exclude_defaults=True)
    text = "".join(f"{_key(name)} = {_value(value, name)}\n" for name, value in data.items())
    if parse_policy(text, "fast policy") != policy:
        raise ValueError("the policy does not survive a round trip through TOML")
    return text


def _key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _value(value: Any, where: str) -> str:
    if value is None:
        raise ValueError(f"{where}: TOML has no null; leave the value at its default")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(item, where) for item in value) + "]"
    if isinstance(value, Mapping):
        inner = (f"{_key(k)} = {_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{" + ", ".join(inner) + "}"
    raise TypeError(f"{where}: {type(value).__name__} has no TOML form here")

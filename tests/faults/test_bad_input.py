"""Fuzzing the files people edit: policy.toml and directory imports. Whatever a value is replaced
with, the answer is the policy or directory, or one clear validation error; never a crash."""

from __future__ import annotations

import copy
import json
import tomllib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.settings import PROJECT_ROOT
from support.identity.directory import DirectoryError, parse_directory_file
from support.policies.policy import PolicyError, parse_policy, policy_from_dict
from tests.faults.batch import FUZZ_SCALE

POLICY = tomllib.loads((PROJECT_ROOT / "policy.toml").read_text())
DIRECTORY = tomllib.loads((PROJECT_ROOT / "directory.toml").read_text())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["25:00-26:00", "09:00-08:00", "-1h", "0s", "1 business days", "Mars/Base", "A", "D", ""]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def replaced(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(document)
    node: Any = mutated
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return mutated


@settings(max_examples=300 * FUZZ_SCALE, deadline=None)
@given(st.sampled_from(paths(POLICY)), values)
def test_any_policy_value_gives_the_policy_or_a_clear_error(path: tuple[Any, ...], value: Any) -> None:
    try:
        policy_from_dict(replaced(POLICY, path, value), "policy.toml")
    except PolicyError as error:
        assert str(error).startswith("policy.toml: ") and "Traceback" not in str(error)


@settings(max_examples=100 * FUZZ_SCALE, deadline=None)
@given(st.text(max_size=200))
def test_any_policy_text_gives_the_policy_or_a_clear_error(text: str) -> None:
    try:
        parse_policy(text, "policy.toml")
    except PolicyError as error:
        assert str(error).startswith("policy.toml: ")


@settings(max_examples=300 * FUZZ_SCALE, deadline=None)
@given(st.sampled_from(paths(DIRECTORY)), values)
def test_any_directory_value_gives_the_directory_or_a_clear_error(path: tuple[Any, ...], value: Any) -> None:
    try:
        text = json.dumps(replaced(DIRECTORY, path, value), default=str)
    except ValueError:
        return  # not representable as JSON (nan in strict mode is fine, this is only a guard)
    try:
        parse_directory_file(text, "directory.json")
    except DirectoryError as error:
        assert str(error).startswith("directory.json") and "Traceback" not in str(error)

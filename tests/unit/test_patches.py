"""Every patch id in the code is listed in workflows/patches.py with its reason and the recorded
history that covers it (issue 27, finding 5). The code is read with `ast`, the way a reviewer
would: each `workflow.patched(...)`, `workflow.deprecate_patch(...)` and `case.patched(...)`
call, its id a string or a module constant (resolved through `from module import NAME`)."""

from __future__ import annotations

import ast
import base64
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from adapters.settings import PROJECT_ROOT
from support.case.effects import CaseAttribute, SetAttributes
from support.policies.vocabulary import CaseStatus
from tests.case_driver import Driver
from tests.requests import case_request
from workflows.patches import DERIVED_RELEASE_PATCH, FOLDED, PATCHES, RELEASE_PATCH

PACKAGES = ("support", "adapters", "activities", "workflows", "intake", "bootstrap")
CALLS = {"patched", "deprecate_patch"}
HISTORIES = PROJECT_ROOT / "tests" / "histories"


def module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def string_constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }  # fmt: skip


@cache
def patch_ids_in(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, list[str]]:
    """Each patch id the code decides on, with where (`file:line`). An id that is neither a string
    nor a constant this scan can resolve is reported under `?<expression>`, so it fails too."""
    trees = {
        module_name(path, root): (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for package in packages
        for path in sorted((root / package).glob("**/*.py"))
    }
    constants = {name: string_constants(tree) for name, (_, tree) in trees.items()}
    found: dict[str, list[str]] = {}
    for name, (path, tree) in trees.items():
        visible = dict(constants[name])
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in constants:
                for alias in node.names:
                    if alias.name in constants[node.module]:
                        visible[alias.asname or alias.name] = constants[node.module][alias.name]
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called not in CALLS:
                continue
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                patch = argument.value
            elif isinstance(argument, ast.Name) and argument.id in visible:
                patch = visible[argument.id]
            else:
                patch = f"?{ast.unparse(argument)}"
            found.setdefault(patch, []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def recorded_patch_ids(history: Path) -> set[str]:
    """The ids of the patch markers a recorded history holds (every run of it)."""
    loaded = json.loads(history.read_text(encoding="utf-8"))
    ids = set()
    for run in loaded if isinstance(loaded, list) else [loaded]:
        for event in run.get("events", []):
            marker = event.get("markerRecordedEventAttributes") or {}
            if marker.get("markerName") != "core_patch":
                continue
            for payloads in marker.get("details", {}).values():
                for payload in payloads.get("payloads", []):
                    ids.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return ids


def used_ids() -> dict[str, list[str]]:
    """The ids the code decides on, less the one variable call that asks them all (patches.patched)."""
    used = dict(patch_ids_in(PROJECT_ROOT))
    if used.get("?patch_id", [""])[0].startswith("workflows/patches.py:"):
        del used["?patch_id"]
    return used


def test_every_patch_id_in_the_code_is_listed_with_its_reason() -> None:
    used = used_ids()
    listed = {patch.id for patch in PATCHES}
    unlisted = {patch: where for patch, where in used.items() if patch not in listed}
    assert not unlisted, f"patch ids the code uses that workflows/patches.py does not list: {unlisted}"
    assert len(listed) == len(PATCHES), "an id listed twice"
    assert all(patch.reason for patch in PATCHES)


def test_every_listed_patch_is_still_in_the_code() -> None:
    """A patch removed from the code (after `deprecate_patch`, once no case predates it) leaves the
    list too: the list is what the code decides on, not a history of it."""
    used = patch_ids_in(PROJECT_ROOT)
    assert sorted(p.id for p in PATCHES if p.id not in used) == []


def test_the_scan_finds_an_unlisted_patch_and_an_unresolvable_one(tmp_path: Path) -> None:
    """The check is no stronger than its scan: it sees a new id however it is written."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ids.py").write_text('NEW = "a-new-rule"\n', encoding="utf-8")
    (tmp_path / "pkg" / "flow.py").write_text(
        "from pkg.ids import NEW\n"
        "def run(workflow, case, name):\n"
        '    workflow.patched("literal-id")\n'
        "    case.patched(NEW)\n"
        '    workflow.deprecate_patch("old-id")\n'
        "    workflow.patched(name)\n",
        encoding="utf-8",
    )
    found = patch_ids_in(tmp_path, ("pkg",))
    assert found == {
        "literal-id": ["pkg/flow.py:3"],
        "a-new-rule": ["pkg/flow.py:4"],
        "old-id": ["pkg/flow.py:5"],
        "?name": ["pkg/flow.py:6"],
    }


def test_each_patch_s_history_records_it() -> None:
    """The history a patch names takes the patched path (its marker is in it); the one recorded
    before it, where named, does not; every recorded history is replayed by tests/system/test_replay.py."""
    for patch in PATCHES:
        if patch.recorded_in is not None:
            assert patch.id in recorded_patch_ids(HISTORIES / patch.recorded_in), patch
        if patch.old_path is not None:
            assert patch.id not in recorded_patch_ids(HISTORIES / patch.old_path), patch
        assert patch.recorded_in or patch.old_path, f"{patch.id}: no recorded history covers it"


def test_every_patch_is_asked_through_the_fold() -> None:
    """A new case pays one marker for all the patches (issue 26) only if no code asks Temporal for
    a patch by itself: `workflow.patched` is called in workflows/patches.py alone, and every other
    listed patch is folded into the release."""
    direct = [
        where
        for where in patch_ids_in(PROJECT_ROOT).values()
        for place in where
        if place.startswith("workflows/patches.py:")
    ]
    # the newest release, the one before it, then the folded patch itself for older cases
    assert len(direct) == 3, direct
    for path in sorted(p for package in PACKAGES for p in (PROJECT_ROOT / package).glob("**/*.py")):
        if path.name == "patches.py":
            continue
        assert "workflow.patched(" not in path.read_text(encoding="utf-8"), path
    assert {patch.id for patch in PATCHES} - {RELEASE_PATCH, DERIVED_RELEASE_PATCH} == FOLDED


def test_an_opening_linked_to_an_incident_is_one_upsert() -> None:
    """What a case pays per decision: the opening sets its status, severity, due time and incident
    in one search-attribute upsert (it was two when the case was linked to an incident)."""
    opened_at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    driver = Driver(case_request("incident", severity="A", service="teams"), opened_at)
    upserts = [e for e in driver.effects if isinstance(e, SetAttributes)]
    assert len(upserts) == 1, upserts
    assert dict(upserts[0].values)[CaseAttribute.INCIDENT_ID] == "INC-2026-0042"
    assert driver.view.status is CaseStatus.AWAITING_FIRST_RESPONSE


def test_contributing_md_lists_every_patch() -> None:
    """The table contributors read is the list: a patch added to workflows/patches.py and not to
    CONTRIBUTING.md's table (or left there once removed) fails here."""
    text = (PROJECT_ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("| patch id | why | recorded history |", 1)[1].split("\n\n", 1)[0]
    documented = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert documented == [patch.id for patch in PATCHES]


def test_a_new_case_records_one_patch_marker_across_both_releases() -> None:
    """Releases stack: the newest folds the older one's patches too, so a case of this code asks
    it alone (issue 26: one marker), and a case of the older release replays asking its own."""
    assert recorded_patch_ids(HISTORIES / "attributes_derived.json") == {DERIVED_RELEASE_PATCH}
    assert recorded_patch_ids(HISTORIES / "patches_folded.json") == {RELEASE_PATCH}

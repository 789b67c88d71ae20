"""The patches a new case pays for once (workflows.patches, issue 26): every patch id the code asks
for is folded, so a new case records one patch marker, not one per behaviour change."""

from __future__ import annotations

import re

from adapters.settings import PROJECT_ROOT
from workflows.patches import FOLDED, RELEASE_PATCH


def test_every_patch_the_code_asks_for_is_folded() -> None:
    asked: set[str] = set()
    for package in ("support", "workflows"):
        for path in (PROJECT_ROOT / package).glob("*.py"):
            asked |= set(re.findall(r'^\w*_PATCH = "([a-z0-9-]+)"', path.read_text(), re.MULTILINE))
    assert asked - {RELEASE_PATCH} == FOLDED, "a patch asked for but not folded (or folded but gone)"

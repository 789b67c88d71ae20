"""The documentation's links lead somewhere (issue 27, finding 5): every relative link of the
README, ARCHITECTURE.md, CONTRIBUTING.md, bench/README.md and docs/ names a file that exists and,
with `#anchor`, a heading of that file (GitHub's anchors); each long document starts with its table
of contents; the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.settings import PROJECT_ROOT

DOCUMENTS = sorted(
    [PROJECT_ROOT / name for name in ("README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "bench/README.md")]
    + [p for p in (PROJECT_ROOT / "docs").glob("*.md")]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {anchor(m[1]) for m in re.finditer(r"^#+ (.*)$", text, re.M)}


def broken_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        name, _, fragment = target.partition("#")
        linked = (path.parent / name).resolve() if name else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target}: no such heading")
    return broken


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    assert len(DOCUMENTS) >= 15
    found = {str(p.relative_to(PROJECT_ROOT)): b for p in DOCUMENTS if (b := broken_links(p))}
    assert found == {}


def test_the_check_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# There\n\n## A `code` heading, too\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-code-heading-too) [ok](https://temporal.io)\n"
        "[gone](missing.md) [wrong](there.md#nowhere)\n```\n[in a block](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md: no such file", "there.md#nowhere: no such heading"]


def test_long_documents_start_with_their_contents_and_the_readme_is_short() -> None:
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 80:
            assert "**Contents**" in text.split("\n## ", 1)[0], f"{path.name}: no table of contents"
    assert (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").count("\n") <= 250

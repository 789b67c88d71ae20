"""The README's architecture is drawn from the import-linter contract, in its order.

`make lint` runs the contract itself (`lint-imports`); this keeps the picture newcomers read the
same as the layers that are checked."""

from __future__ import annotations

import re
import tomllib

from adapters.settings import PROJECT_ROOT


def contract_layers() -> list[str]:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [str(layer) for layer in layers]


def readme_layers() -> list[str]:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Architecture\n", 1)[1]
    block = section.split("```\n", 2)[1]
    return [m[1] for line in block.splitlines() if (m := re.match(r"^([a-z_]+)/\s", line))]


def test_the_readme_draws_the_layers_of_the_contract_in_order() -> None:
    assert readme_layers() == contract_layers()


def test_every_package_is_in_a_layer() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    roots = set(config["tool"]["importlinter"]["root_packages"])
    packages = {p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")} - {"tests"}
    assert roots == set(contract_layers()) == packages

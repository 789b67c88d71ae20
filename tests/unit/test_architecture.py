"""ARCHITECTURE.md's layers are drawn from the import-linter contract, in its order.

`make lint` runs the contract itself (`lint-imports`); this keeps the picture newcomers read the
same as the layers that are checked."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from adapters.settings import PROJECT_ROOT


def contract_layers() -> list[str]:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [str(layer) for layer in layers]


def documented_layers() -> list[str]:
    architecture = (PROJECT_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = architecture.split("\n## Layers\n", 1)[1]
    block = section.split("```\n", 2)[1]
    return [m[1] for line in block.splitlines() if (m := re.match(r"^([a-z_]+)/\s", line))]


def test_architecture_md_draws_the_layers_of_the_contract_in_order() -> None:
    assert documented_layers() == contract_layers()


def test_every_package_is_in_a_layer() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    roots = set(config["tool"]["importlinter"]["root_packages"])
    packages = {p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")} - {"tests"}
    assert roots == set(contract_layers()) == packages


# What only the composition root (bootstrap/) opens: database engines, Temporal connections and
# servers, the stores over an engine, the verification key. application/ and interfaces/ are handed them: they
# neither call nor import the functions, and names the stores only as types. (`connect` also covers an
# engine's `connect()`: they read the database through the adapters' functions.)
OPENERS = {
    "open_database",  # adapters.database: an engine, its schema migrated
    "create_engine",  # sqlalchemy
    "seed_directory",  # adapters.database: an engine of its own
    "connect",  # adapters.temporal.connect, temporalio's Client.connect
    "embedded_dev_server",  # adapters.temporal
    "start_local",  # WorkflowEnvironment
    "start_time_skipping",
    "verification_key",  # adapters.secrets
}
STORES = {"DirectoryStore", "VerificationFailures", "DeliveryLedger", "SignedOutSessions", "ReplyAddresses"}


def opened_in(path: Path) -> list[str]:
    """`name() (line n)` for each call of an opener or a store, `import name (line n)` for each
    import of an opener, in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in OPENERS | STORES:
                found.append(f"{name}() (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom):
            found += [f"import {a.name} (line {node.lineno})" for a in node.names if a.name in OPENERS]
    return found


def test_the_doors_and_their_shared_layer_open_no_engine_and_no_connection() -> None:
    """bootstrap/ opens the database and the Temporal client once and hands them to application/ and
    interfaces/ (the
    gateway, the API, the CLI), so the in-process API of `make run` shares the worker's."""
    modules = sorted(
        m for room in ("application", "interfaces") for m in (PROJECT_ROOT / room).glob("**/*.py")
    )
    assert modules
    opened = {str(m.relative_to(PROJECT_ROOT)): found for m in modules if (found := opened_in(m))}
    assert opened == {}, "application/ or interfaces/ opens what bootstrap/ should hand it"


def test_the_check_sees_what_bootstrap_opens() -> None:
    """The check is no stronger than its list: it finds what bootstrap/ opens."""
    found = [line for m in ("cli.py", "gateway.py") for line in opened_in(PROJECT_ROOT / "bootstrap" / m)]
    for seen in ("open_database()", "import open_database", "connect()", "DirectoryStore()"):
        assert any(line.startswith(seen) for line in found), seen

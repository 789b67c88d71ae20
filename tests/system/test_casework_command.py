"""The `casework` command a user types after `pip install .` (issue 27, finding 6): the installed
console script, run as a user runs it, answers `--help` under its own name and carries out a real
command the same as `python starter.py`."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from adapters.settings import PROJECT_ROOT

CASEWORK = Path(sys.executable).parent / "casework"  # where pip put the script, beside this interpreter


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CASEWORK), *argv], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )


def test_pip_install_declares_the_casework_command() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"] == {"casework": "bootstrap.main:casework_main"}
    assert CASEWORK.exists(), f"{CASEWORK}: run `make .venv/.installed-stamp` (pip install -e .)"


def test_casework_help_names_itself_and_every_command() -> None:
    done = run("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: casework ")
    for command in ("open", "show", "respond", "resolve", "replay", "thread", "policy", "keys"):
        assert command in done.stdout


def test_casework_runs_a_real_command() -> None:
    """`casework policy due` answers without a server: the policy's terms, capped as the policy
    says (A needs a premium agreement)."""
    argv = (
        "policy",
        "due",
        "--severity",
        "A",
        "--category",
        "technical",
        "--opened",
        "2026-11-23T10:00:00+08:00",
    )
    done = run(*argv)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["requested_severity"] == "A" and answer["severity"] == "B"
    assert [cap["code"] for cap in answer["severity_caps"]] == ["agreement_required"]
    assert answer["first_response_due"] == "2026-11-24T10:00:00+08:00"  # B: 1 business day


def test_starter_py_stays_the_entry_the_design_names_and_calls_the_command() -> None:
    tree = ast.parse((PROJECT_ROOT / "starter.py").read_text(encoding="utf-8"))
    main_block = [node for node in tree.body if isinstance(node, ast.If)]
    assert len(main_block) == 1 and ast.unparse(main_block[0].body[0]) == "casework_main()"

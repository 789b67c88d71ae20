"""`make lint`'s proof that the case machine's dispatch is exhaustive: mypy is run on
`support/case/machine.py` with `support/case/events.py` read as if it had one more event type in
the `Event` union (`Stray`) and no step for it, and must refuse it at `decide`'s dispatch
(`assert_never`). Exit 0 when mypy finds the missing step, 1 when it does not (the dispatch lost
its exhaustiveness: a new event would be a KeyError inside a workflow task instead).

Run from the project root: `.venv/bin/python -m scripts.missing_step`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

EVENTS = Path("support/case/events.py")
MACHINE = Path("support/case/machine.py")
CACHE = Path(".mypy_cache/missing-step")  # its own: the shadowed module never enters the main cache
STRAY = '\nclass Stray(BaseModel):\n    """An event added without a step."""\n\n'


def with_stray(source: str) -> str:
    """case_events.py with a `Stray` model added to the `Event` union."""
    if "\nEvent = (\n" not in source or "    | DeliveryFailed\n)" not in source:
        raise SystemExit(f"{EVENTS}: the Event union is not where this check looks for it; update {__file__}")
    source = source.replace("\nEvent = (\n", STRAY + "\nEvent = (\n")
    return source.replace("    | DeliveryFailed\n)", "    | DeliveryFailed\n    | Stray\n)")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        shadow = Path(folder) / "case_events.py"
        shadow.write_text(with_stray(EVENTS.read_text(encoding="utf-8")), encoding="utf-8")
        command = [sys.executable, "-m", "mypy", "--cache-dir", str(CACHE)]
        command += ["--shadow-file", str(EVENTS), str(shadow), str(MACHINE)]
        found = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
        )
    errors = [line for line in found.stdout.splitlines() if line.startswith(f"{MACHINE}:")]
    if found.returncode == 1 and any("assert_never" in e and '"Stray"' in e for e in errors):
        print(f"missing step: mypy finds an Event without a step ({errors[0]})")
        return 0
    print(f"missing step: mypy did NOT refuse an Event without a step:\n{found.stdout}{found.stderr}")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Entry point for the intake CLI, as the design names it: `python starter.py open|show|list|...`.
The installed `casework` command (`pip install .`) runs the same thing."""

from __future__ import annotations

from bootstrap.main import casework_main

if __name__ == "__main__":
    casework_main()

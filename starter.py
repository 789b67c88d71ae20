"""Entry point for the intake CLI: `python starter.py open|show|list|respond|resolve|policy due`."""

from __future__ import annotations

from intake.cli import main
from service.process_exit import exit_now

if __name__ == "__main__":
    exit_now(main())

"""Entry point for the intake CLI: `python starter.py open|show|list|respond|resolve|policy due`."""

from __future__ import annotations

from adapters.process_exit import exit_now
from bootstrap.main import starter_main

if __name__ == "__main__":
    exit_now(starter_main())

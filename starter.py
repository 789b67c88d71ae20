"""Entry point for the intake CLI: `python starter.py open|show|list|respond|resolve|policy due`."""

from __future__ import annotations

from intake.cli import main
from service.private_dir import private_umask
from service.process_exit import exit_now

if __name__ == "__main__":
    private_umask()  # what the CLI writes (var/, exports) is readable by the user only
    exit_now(main())

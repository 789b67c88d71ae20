"""Entry point for the intake CLI: `python starter.py open|show|list|respond|resolve|policy due`."""

from __future__ import annotations

import sys

from intake.cli import main
from service.private_dir import private_umask
from service.process_exit import exit_now
from service.settings import SettingsError, load_settings

if __name__ == "__main__":
    private_umask()  # what the CLI writes (var/, exports) is readable by the user only
    try:
        load_settings()  # every variable checked before any command runs
    except SettingsError as error:  # every bad variable, one a line; no traceback
        print(error, file=sys.stderr)
        exit_now(2)
    exit_now(main())

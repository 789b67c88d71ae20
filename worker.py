"""Entry point: run the casework worker (and, with no cluster configured, an embedded Temporal)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from service.private_dir import private_dir, private_umask
from service.process_exit import exit_now
from service.runner import run_worker
from service.settings import SettingsError, load_settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=(
            "Run the casework worker. Without TEMPORAL_ADDRESS (or a temporalio.envconfig profile) it "
            "starts an embedded Temporal dev server persisted under var/."
        )
    )
    parser.add_argument(
        "--seed", type=Path, metavar="FILE", help="import this directory file first (idempotent)"
    )
    parser.add_argument("--api", action="store_true", help="also serve the HTTP intake API in this process")
    args = parser.parse_args()
    try:
        settings = load_settings()
    except SettingsError as error:  # every bad variable, one a line; no traceback
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    private_dir(settings.var_dir)  # also tightens a var/ left world-readable by older versions
    asyncio.run(run_worker(settings, seed=args.seed, api=args.api))


if __name__ == "__main__":
    private_umask()  # before anything is created: var/, databases, mail, the dev server's files
    main()
    exit_now(0)

"""Entry point: run the casework worker (and, with no cluster configured, an embedded Temporal)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.process_exit import exit_now
from bootstrap.main import worker_main


def main() -> int:
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
    return worker_main(seed=args.seed, api=args.api)


if __name__ == "__main__":
    exit_now(main())

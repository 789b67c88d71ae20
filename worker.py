"""Entry point: run the casework worker (and, with no cluster configured, an embedded Temporal)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapters.process_exit import exit_now
from bootstrap.main import worker_main
from bootstrap.parts import PARTS


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
    parser.add_argument(
        "--only",
        choices=PARTS,
        help=(
            "run one part, so that the cases and their deliveries each have a process (and a core) "
            "of their own: `--only cases` (with the embedded server, the API, inbound mail), and "
            "beside it `--only deliveries` (on the configured cluster, or the embedded server of "
            "the `--only cases` worker on this machine)"
        ),
    )
    args = parser.parse_args()
    if args.only == "deliveries" and (args.api or args.seed):
        parser.error("--only deliveries sends mail only: run --api and --seed with the case worker")
    return worker_main(seed=args.seed, api=args.api, only=args.only)


if __name__ == "__main__":
    exit_now(main())

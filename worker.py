"""Entry point: run the casework worker (and, with no cluster configured, an embedded Temporal)."""

from __future__ import annotations

import argparse
import asyncio

from service.process_exit import exit_now
from service.runner import run_worker
from service.settings import Settings


def main() -> None:
    argparse.ArgumentParser(
        description=(
            "Run the casework worker. Without TEMPORAL_ADDRESS (or a temporalio.envconfig profile) it "
            "starts an embedded Temporal dev server persisted under var/."
        )
    ).parse_args()
    asyncio.run(run_worker(Settings()))


if __name__ == "__main__":
    main()
    exit_now(0)

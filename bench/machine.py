"""Where a benchmark's CPU went, by process: the dev server, casework's worker processes, and the
benchmark's own process (the driver, and whatever runs in it). On one machine they share its
cores, so a phase's throughput is bounded by their sum, not by any one of them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from scaffold.processes import WorkerProcess, cpu_seconds


@dataclass
class Phase:
    """One phase's run: the wall time, and the CPU time of each worker process, of the dev server
    and of this process."""

    seconds: float
    worker_cpu: list[float]
    server_cpu: float | None
    driver_cpu: float

    def per(self, n: int) -> dict[str, float | None]:
        """CPU-seconds per case (or workflow) of `n`."""
        return {
            "worker_cpu_s": round(sum(self.worker_cpu) / n, 4),
            "server_cpu_s": None if self.server_cpu is None else round(self.server_cpu / n, 4),
            "driver_cpu_s": round(self.driver_cpu / n, 4),
        }


@contextmanager
def measured(server: int | None, workers: list[WorkerProcess]) -> Iterator[list[Phase]]:
    """Times what runs inside it: the server's (pid, or None when it was not found), the worker
    processes' and this process's CPU. The Phase is in the list once the block is done."""
    done: list[Phase] = []
    pids = [worker.process.pid for worker in workers]
    workers0, server0 = [cpu_seconds(pid) for pid in pids], cpu_seconds(server) if server else 0.0
    driver0, t0 = time.process_time(), time.perf_counter()
    yield done
    done.append(
        Phase(
            seconds=time.perf_counter() - t0,
            worker_cpu=[cpu_seconds(pid) - c for pid, c in zip(pids, workers0, strict=True)],
            server_cpu=cpu_seconds(server) - server0 if server else None,
            driver_cpu=time.process_time() - driver0,
        )
    )

"""How every benchmark reports: a progress bar on stderr while it runs, then a table for people and
one JSON line for tools on stdout, and the same JSON in `var/bench/<name>.json`."""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

from adapters.private_dir import FILE_MODE, private_dir
from adapters.settings import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "var" / "bench"

T = TypeVar("T")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency(values: list[float], unit: float = 1.0, digits: int = 3) -> dict[str, float | None]:
    """p50 / p99 / max of the values, scaled by `unit` (1000 for milliseconds)."""
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(statistics.median(values) * unit, digits),
        "p99": round(percentile(values, 0.99) * unit, digits),
        "max": round(max(values) * unit, digits),
    }


class Progress:
    """A progress bar on stderr (tqdm; `TQDM_DISABLE=1` hides it), for one phase of a benchmark:
    `advance()` as things finish, or `reach(n)` when a count is polled."""

    def __init__(self, what: str, total: int, unit: str = "case") -> None:
        self._bar: Any = tqdm(
            total=total, desc=what, unit=unit, file=sys.stderr, mininterval=0.5, dynamic_ncols=True
        )

    def advance(self, n: int = 1) -> None:
        self._bar.update(n)

    def reach(self, count: int) -> None:
        if count != self._bar.n:
            self._bar.update(count - self._bar.n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


async def counted(progress: Progress, call: Awaitable[T]) -> T:
    """`call`'s result, advancing the bar when it is done."""
    result = await call
    progress.advance()
    return result


def counting(progress: Progress, make: Callable[[int], Awaitable[T]]) -> Callable[[int], Awaitable[T]]:
    """`make`, advancing the bar each time one of its calls is done."""

    async def one(i: int) -> T:
        return await counted(progress, make(i))

    return one


def save(name: str, summary: Mapping[str, object]) -> Path:
    """The summary as `var/bench/<name>.json` (written whole, then renamed into place)."""
    path = private_dir(RESULTS_DIR) / f"{name}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    partial.chmod(FILE_MODE)  # var/ is the user's only
    partial.replace(path)
    return path


def emit(name: str, summary: Mapping[str, object], table: bool = True) -> None:
    """Print the summary (a table unless the benchmark printed its own, then the JSON line), save it
    as `var/bench/<name>.json`, and leave without interpreter teardown (temporalio/sdk-python#300)."""
    if table:
        for key, value in summary.items():
            if key != "benchmark":
                print(f"{key:<28} {value}")
    print(json.dumps(summary), flush=True)
    print(f"saved to {save(name, summary)}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(0)

"""How every benchmark reports: a table for people, then one JSON line for tools."""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections.abc import Mapping


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


def emit(summary: Mapping[str, object]) -> None:
    """Print the summary and leave without interpreter teardown (temporalio/sdk-python#300)."""
    for key, value in summary.items():
        if key != "benchmark":
            print(f"{key:<28} {value}")
    print(json.dumps(summary), flush=True)
    sys.stdout.flush()
    os._exit(0)

"""Rate limits of the intake: token buckets per API key and per tenant, in this process.

A bucket holds `limit` requests and refills at `limit` per `window`; a request that finds it empty
is refused with the seconds until one is back (429 with Retry-After). Each API process keeps its
own buckets: with several API processes behind a balancer the limit is per process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    limit: int
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key: str) -> float | None:
        """None when allowed; otherwise the seconds to wait before asking again."""
        if self.limit <= 0:
            return None
        now, rate = self.clock(), self.limit / self.window_s
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.limit), at=now)
            if len(self._buckets) > 100_000:  # forget the fullest buckets rather than grow
                self._forget(now)
        bucket.tokens = min(float(self.limit), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1.0, math.ceil((1.0 - bucket.tokens) / rate))

    def _forget(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if now - b.at >= self.window_s]
        for key in full:
            del self._buckets[key]


class RateLimited(Exception):
    """Too many requests; `retry_after` seconds until the next one may go through."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)

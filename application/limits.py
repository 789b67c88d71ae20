"""Rate limits of the intake: token buckets per API key and per tenant, in this process.

A bucket holds `limit` requests and refills at `limit` per `window`; a request that finds it empty
is refused with the seconds until one is back (429 with Retry-After). Each API process keeps its
own buckets: with several API processes behind a balancer the limit is per process. The API and
the console of one process share theirs (`FrontLimits`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.logging import get_logger
from adapters.settings import Settings
from application.errors import RateLimited as RateLimited  # re-exported: the fronts import it from here
from support.identity.verification import mask

log = get_logger("casework.limits")


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

    def give_back(self, key: str) -> None:
        """Return a token taken for something that did not happen after all (an opening that
        found its case already there, or failed)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(float(self.limit), bucket.tokens + 1.0)

    def waiting(self, key: str) -> float | None:
        """Like `take` without taking: None when a token is there, else the seconds until one is."""
        if self.limit <= 0:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        rate = self.limit / self.window_s
        tokens = min(float(self.limit), bucket.tokens + (self.clock() - bucket.at) * rate)
        return None if tokens >= 1.0 else max(1.0, math.ceil((1.0 - tokens) / rate))

    def _forget(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if now - b.at >= self.window_s]
        for key in full:
            del self._buckets[key]


@dataclass
class FrontLimits:
    """The limits the API and the console share, so each budget is counted once for both fronts:
    requests a minute per key (`per_key`) and per client address (`per_client`), wrong keys (a bad
    bearer token, a failed console sign-in) per client address (`failed_sign_ins`: once it is
    spent, that address is refused every key until a token is back), and new cases an hour per
    tenant (`openings`, taken by `application.cases.Cases.open` for a case it starts)."""

    per_key: RateLimiter
    per_client: RateLimiter
    failed_sign_ins: RateLimiter
    openings: RateLimiter

    @classmethod
    def of(cls, settings: Settings) -> FrontLimits:
        return cls(
            per_key=RateLimiter(settings.rate_per_key),
            per_client=RateLimiter(settings.rate_per_client),
            failed_sign_ins=RateLimiter(settings.failed_sign_ins_per_client, window_s=3600.0),
            openings=RateLimiter(settings.openings_per_tenant, window_s=3600.0),
        )

    def locked_out(self, client: str) -> RateLimited | None:
        """Too many wrong keys from this address: every key is refused until a try is back."""
        wait = self.failed_sign_ins.waiting(client)
        if wait is None:
            return None
        return RateLimited(f"too many failed sign-ins from this address; try again in {int(wait)} s", wait)

    def client_request(self, client: str) -> RateLimited | None:
        wait = self.per_client.take(client)
        if wait is None:
            return None
        return RateLimited(f"too many requests from this address; try again in {int(wait)} s", wait)

    def key_request(self, name: str) -> RateLimited | None:
        wait = self.per_key.take(name)
        if wait is None:
            return None
        return RateLimited(f"too many requests from this key; try again in {int(wait)} s", wait)

    def failed_sign_in(self, client: str, token: str, front: str) -> None:
        """Count a wrong key from this address and log it: the key and the address masked."""
        self.failed_sign_ins.take(client)
        log.warning(
            "sign-in refused: no such key", front=front, key=masked_key(token), client=masked_client(client)
        )


def client_of(scope: Mapping[str, Any]) -> str:
    """The caller's address as the server saw it (uvicorn puts a trusted proxy's
    X-Forwarded-For there: `--forwarded-allow-ips`)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def masked_key(token: str) -> str:
    """A wrong key as the log may show it: the start and end of a long one, never a short one."""
    return mask(token) if len(token) >= 16 else "*" * min(len(token), 8)


def masked_client(address: str) -> str:
    """An address as the log may show it: its network, not the host ('203.0.113.*', '2001:db8:1:*')."""
    if ":" in address:
        return ":".join(address.split(":")[:3]) + ":*"
    if address.count(".") == 3:
        return address.rsplit(".", 1)[0] + ".*"
    return "*"

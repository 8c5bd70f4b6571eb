"""A token bucket per principal: `rate` calls per second on average, `burst` at once.

The clock is injected so the arithmetic is testable without waiting. The
number of buckets is bounded: when it grows past `max_principals`, buckets
that are full again (idle callers) are forgotten, which loses nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ResourceExhausted

RATE_VARIABLE = "RATE_LIMIT_PER_SECOND"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_principals: int = 10_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max = max_principals
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, principal: str) -> None:
        """Takes one token from `principal`'s bucket, or raises ResourceExhausted with a retry delay."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(principal)
            if bucket is None:
                self._forget_idle(now)
                bucket = self._buckets[principal] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self.rate
        raise ResourceExhausted(
            f"rate limit exceeded for {principal}: {self.rate:g} calls per second, bursts of {self.burst} "
            f"({RATE_VARIABLE}); retry in {math.ceil(wait * 1000) / 1000:g} s",
            limit=RATE_VARIABLE, reason="RATE_LIMITED", retry_after_seconds=wait)

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < self._max:
            return
        full = [name for name, b in self._buckets.items()
                if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for name in full:
            del self._buckets[name]
        if len(self._buckets) >= self._max:  # all busy: drop the oldest half
            for name in sorted(self._buckets, key=lambda n: self._buckets[n].updated)[: self._max // 2]:
                del self._buckets[name]

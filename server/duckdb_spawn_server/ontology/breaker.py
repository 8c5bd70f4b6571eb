"""A circuit breaker with exponential backoff and full jitter, for the ontology server.

CLOSED: calls go through. After `threshold` consecutive failures the
circuit OPENs for a backoff of `base * 2**n` seconds (n counts the failures
beyond the threshold), capped at `cap`, and jitter picks the actual wait
uniformly in [backoff/2, backoff] ("equal jitter"), so replicas that lost the server
together do not all retry at the same instant. When the wait is over, one
trial call is let through (HALF_OPEN); its success closes the circuit, its
failure opens it again for longer.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from enum import Enum


class CircuitState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, *, threshold: int = 2, base: float = 0.5, cap: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random) -> None:
        if threshold < 1 or base <= 0 or cap < base:
            raise ValueError("need threshold >= 1 and 0 < base <= cap")
        self._threshold = threshold
        self._base = base
        self._cap = cap
        self._clock = clock
        self._rand = rand
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        with self._lock:
            return self._state()

    def _state(self) -> CircuitState:
        if self._open_until is None:
            return CircuitState.CLOSED
        if self._clock() < self._open_until:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def allow(self) -> bool:
        """True if a call may go out now (in HALF_OPEN: only the one trial call)."""
        with self._lock:
            state = self._state()
            if state is CircuitState.CLOSED:
                return True
            if state is CircuitState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def retry_in(self) -> float:
        """Seconds until a call will be allowed again (0 when it is allowed now)."""
        with self._lock:
            if self._open_until is None:
                return 0.0
            return max(0.0, self._open_until - self._clock())

    def next_attempt_at(self) -> float:
        """Monotonic time at which the next call is allowed (0.0, long past, when closed)."""
        with self._lock:
            return 0.0 if self._open_until is None else self._open_until

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._failures >= self._threshold:
                self._open_until = self._clock() + self.backoff(self._failures - self._threshold)

    def backoff(self, attempt: int) -> float:
        """The jittered wait after the `attempt`-th failure beyond the threshold (0-based)."""
        ceiling = min(self._cap, self._base * (2 ** min(attempt, 32)))
        return ceiling / 2 + self._rand() * ceiling / 2

"""Automatic retry of `UNAVAILABLE`, and of nothing else (AIP-194).

UNAVAILABLE means the server did not do the work (it was unreachable,
starting, draining or its write queue was full), so repeating the call is
safe; the client also gives every write a request id (AIP-155), so even a
write whose answer was lost is never applied twice. Every other status is
final: INVALID_ARGUMENT will fail again, ABORTED needs a fresh read first.

Waits grow exponentially with full jitter (as tenacity's
`wait_random_exponential`), never shorter than the server's `RetryInfo`
delay, and never past the call's deadline. A watch (watch.py) reconnects
with the same waits.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from .errors import DuckdbSpawnError, UnavailableError

T = TypeVar("T")

# Called before each retry with the attempt number that failed, the error and the wait in seconds.
RetryHook = Callable[[int, DuckdbSpawnError, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry UNAVAILABLE. `max_attempts` counts the first call too; 1 turns retries off."""

    max_attempts: int = 10
    initial_backoff: float = 0.1
    max_backoff: float = 5.0

    def run(self, attempt: Callable[[float | None], T], deadline: float | None,
            on_retry: RetryHook | None = None) -> T:
        """Calls `attempt(remaining_seconds)` until it succeeds, fails for good, or time runs out.

        `deadline` is a `time.monotonic()` instant (None: no deadline); each
        attempt gets the time left, so retries never stretch the caller's deadline.
        """

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.delay(state.attempt_number, error if isinstance(error, DuckdbSpawnError) else None)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            # Give up now rather than sleep into the deadline (the call would fail anyway).
            return deadline is not None and time.monotonic() + (state.upcoming_sleep or 0) >= deadline

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if on_retry is not None and isinstance(error, DuckdbSpawnError):
                on_retry(state.attempt_number, error, state.upcoming_sleep)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(UnavailableError), wait=wait, stop=stop,
            before_sleep=before_sleep, reraise=True)
        return retrying(lambda: attempt(None if deadline is None else max(deadline - time.monotonic(), 0.0)))

    def delay(self, attempt: int, error: DuckdbSpawnError | None = None) -> float:
        """The wait after failed attempt number `attempt` (1: the first call): a uniform draw up to
        `initial_backoff * 2**(attempt - 1)`, capped at `max_backoff` (tenacity's
        `wait_random_exponential`), and never less than the error's RetryInfo delay."""
        seconds = random.uniform(0, min(self.max_backoff, self.initial_backoff * 2 ** min(attempt - 1, 60)))
        if error is not None and error.retry_delay is not None:
            seconds = max(seconds, error.retry_delay.total_seconds())
        return seconds


NO_RETRY = RetryPolicy(max_attempts=1)

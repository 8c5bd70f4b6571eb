"""The ontology circuit breaker: opens after failures, backs off exponentially with jitter, one trial."""

from __future__ import annotations

from duckdb_spawn_server.ontology.breaker import CircuitBreaker, CircuitState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_the_threshold_and_lets_one_trial_through_when_the_wait_is_over() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, base=1.0, cap=8.0, clock=clock, rand=lambda: 1.0)
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    assert breaker.retry_in() == 1.0
    clock.now += 1.0
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # exactly one trial
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.allow() and breaker.next_attempt_at() == 0.0


def test_the_wait_doubles_up_to_the_cap() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, base=1.0, cap=8.0, clock=clock, rand=lambda: 1.0)
    waits = []
    for _ in range(6):
        breaker.record_failure()
        waits.append(breaker.retry_in())
        clock.now += breaker.retry_in()
        assert breaker.allow()  # the trial
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_spreads_the_wait_between_half_and_all_of_the_backoff() -> None:
    low = CircuitBreaker(base=2.0, cap=60.0, rand=lambda: 0.0).backoff(3)
    high = CircuitBreaker(base=2.0, cap=60.0, rand=lambda: 0.999).backoff(3)
    assert low == 8.0 and 15.9 < high <= 16.0

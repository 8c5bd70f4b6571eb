"""The background thread that keeps the schemas in force fresh.

It starts a refresh (ontology/schema_pipeline.py) when one falls due: a
server schema when its TTL runs out (after a rejected document, not before
the next TTL); a disk copy, the mock or no schema at all whenever the
circuit breaker allows, so the server replaces them as soon as it answers.
While the circuit is not closed it starts one refresh at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..domain.schema_registry import SchemaSource
from .breaker import CircuitBreaker, CircuitState
from .schema_pipeline import SchemaPipeline
from .schemas_in_force import SchemasInForce

_MAX_IDLE_WAIT = 5.0  # looks again at least this often


class SchemaRefresher:
    def __init__(self, schemas: SchemasInForce, pipeline: SchemaPipeline, breaker: CircuitBreaker,
                 clock: Callable[[], float]) -> None:
        self._schemas = schemas
        self._pipeline = pipeline
        self._breaker = breaker
        self._clock = clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ontology-refresher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Looks at once for refreshes due (a request found its schema past its TTL)."""
        with self._pipeline.changes:
            self._pipeline.changes.notify_all()

    def stop(self) -> None:
        self._stopped.set()
        self.wake()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        changes = self._pipeline.changes  # notified when a refresh settles, and by wake()
        while not self._stopped.is_set():
            to_start: list[str] = []
            with changes:
                now = self._clock()
                closed = self._breaker.state is CircuitState.CLOSED
                wait = _MAX_IDLE_WAIT
                for sid in self._schemas.ids:
                    if self._pipeline.in_flight(sid):
                        continue
                    due = self._due_at(sid, now)
                    if due > now:
                        wait = min(wait, due - now)
                    elif closed or not (self._pipeline.any_in_flight() or to_start):
                        to_start.append(sid)
            for sid in to_start:
                self._pipeline.start(sid)
            with changes:
                if not self._stopped.is_set():
                    changes.wait(timeout=max(0.01, wait))

    def _due_at(self, schema_id: str, now: float) -> float:
        held = self._schemas.get(schema_id)
        if held is None or held.origin is not SchemaSource.SERVER:
            base = now  # nothing from the server yet: keep asking (the breaker spaces the attempts)
        else:
            base = (held.fetched_monotonic or 0.0) + self._schemas.ttl
        return max(base, self._schemas.retry_at(schema_id), self._breaker.next_attempt_at())

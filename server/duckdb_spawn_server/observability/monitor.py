"""A background thread that keeps readiness true to the dependencies' state.

Every `interval` seconds it asks each readiness probe (the database
answers a real query; a schema has loaded) and publishes the verdicts to
`HealthState`, so readiness turns NOT_SERVING when the database stops
answering and back when it recovers, and `Watch` streams see it. It also
runs the periodic samplers (cpu usage for the health check, the ontology
server's health for the gauge), so they stay fresh without a caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from .health import HealthState

log = logging.getLogger(__name__)

# A probe answers (usable, why not).
Probe = Callable[[], tuple[bool, str]]


class HealthMonitor:
    def __init__(self, state: HealthState, probes: Sequence[tuple[str, Probe]], interval: float,
                 samplers: Sequence[Callable[[], object]] = ()) -> None:
        self._state = state
        self._probes = list(probes)
        self._samplers = list(samplers)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-monitor", daemon=True)

    def run_once(self) -> None:
        for name, probe in self._probes:
            try:
                ok, reason = probe()
            except Exception as error:  # noqa: BLE001 - a probe that raises reports a failure
                ok, reason = False, type(error).__name__
            self._state.set_dependency(name, ok, reason)
        for sampler in self._samplers:
            try:
                sampler()
            except Exception:
                log.debug("sampler failed", exc_info=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()

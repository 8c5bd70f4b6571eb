"""Health checks and the rule that combines them.

Each check returns a verdict, a message and what it observed. The overall
verdict is the worst of them: any UNHEALTHY check makes the service
UNHEALTHY, else any DEGRADED check makes it DEGRADED, else HEALTHY.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class Status(IntEnum):
    HEALTHY = 0
    DEGRADED = 1
    UNHEALTHY = 2


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    message: str
    observed: dict[str, Any] = field(default_factory=dict)
    duration_seconds: float = 0.0


@dataclass(frozen=True)
class HealthReport:
    status: Status
    checks: list[CheckResult]
    version: str
    uptime_seconds: float
    start_time: datetime


Check = Callable[[], CheckResult]


def run_check(name: str, check: Check) -> CheckResult:
    """Runs one check; a check that raises is UNHEALTHY, never a crash."""
    start = time.monotonic()
    try:
        result = check()
    except Exception as error:  # noqa: BLE001 - a failing check is a verdict
        result = CheckResult(name, Status.UNHEALTHY, f"check failed: {type(error).__name__}")
    return CheckResult(result.name, result.status, result.message, result.observed, time.monotonic() - start)


class HealthReporter:
    def __init__(self, checks: Sequence[tuple[str, Check]], version: str, start_time: datetime,
                 start_monotonic: float) -> None:
        self._checks = list(checks)
        self._version = version
        self._start_time = start_time
        self._start_monotonic = start_monotonic

    def report(self) -> HealthReport:
        results = [run_check(name, check) for name, check in self._checks]
        overall = max((r.status for r in results), default=Status.HEALTHY)
        return HealthReport(overall, results, self._version, time.monotonic() - self._start_monotonic,
                            self._start_time)

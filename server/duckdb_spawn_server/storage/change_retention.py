"""Retention of the change log: a thread that deletes changes outside the window, and the log's figures.

Every `interval`, changes older than the retention (or beyond its count) are
deleted through the writer, and the window's start moves with them, in one
transaction (storage/change_log.py `compact`). On a lake only the leader
compacts; every replica still refreshes the figures the metrics report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.records import utc_now
from .change_log import DuckDBChangeStore, Retention, compact
from .writer import Execute, GroupCommitWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeLogFigures:
    size: int  # changes retained
    oldest_age_seconds: float  # age of the oldest retained change (0 when the log is empty)


class ChangeRetention:
    def __init__(self, writer: GroupCommitWriter, store: DuckDBChangeStore, retention: Retention, interval: float,
                 leads: Callable[[], bool] | None = None) -> None:
        self._writer = writer
        self._store = store
        self._retention = retention
        self._interval = interval
        self._leads = leads  # None: a file, where this process always compacts
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-retention", daemon=True)
        self._counted = (0, None, 0)  # (size, oldest commit time, the log's running count) at the last pass
        self.passes = 0

    def start(self) -> None:
        self._refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def run_once(self) -> int:
        """One pass: compacts (unless another replica leads) and refreshes the figures; returns changes deleted."""
        deleted = 0
        if (self._retention.seconds > 0 or self._retention.count > 0) and (self._leads is None or self._leads()):
            deleted = int(self._writer.run(Execute(lambda con: compact(con, self._retention)), timeout=300))
            if deleted:
                log.info("change log compacted", extra={"deleted": deleted})
        self._refresh()
        self.passes += 1
        return deleted

    def figures(self) -> ChangeLogFigures:
        size, oldest, counted_at = self._counted
        size += self._store.change_log.logged - counted_at  # plus what this process logged since the pass
        if oldest is None:
            return ChangeLogFigures(size, 0.0)
        return ChangeLogFigures(size, max(0.0, (utc_now() - oldest).total_seconds()))

    def _refresh(self) -> None:
        logged = self._store.change_log.logged
        size, oldest = self._store.stats()
        self._counted = (size, oldest, logged)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.run_once()
            except Exception as error:  # noqa: BLE001 - tried again at the next pass
                log.warning("change log retention pass failed: %s", type(error).__name__)


__all__ = ["ChangeLogFigures", "ChangeRetention"]

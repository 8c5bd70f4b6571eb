"""Refuses writes before the database volume runs out of room.

A commit that meets a full disk fails cleanly (the writer always commits an
explicit transaction, so DuckDB reports the failed WAL write), but a
*checkpoint* that meets a full disk invalidates the whole database until the
process restarts. A write's data lands twice before space is given back:
in the WAL at its commit, then in the database file at the next checkpoint
(which runs once the WAL passes its threshold, a quarter of the reserve,
storage/database.py). So a write is refused unless, after it, free space
would still cover the reserve, the WAL waiting for its checkpoint, and the
write itself twice over. Reads go on; writes resume by themselves as soon
as space comes back, since the writer asks the volume afresh before every
group (`statvfs` costs about a microsecond).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..domain.errors import Unavailable

log = logging.getLogger(__name__)

RESERVE_VARIABLE = "DISK_FREE_RESERVE"
LOW_DISK_SPACE = "LOW_DISK_SPACE"
RETRY_AFTER_SECONDS = 5.0


def free_bytes_of(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on the volume holding `directory`."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


@dataclass(frozen=True)
class DiskState:
    free_bytes: int
    reserve_bytes: int
    wal_bytes: int = 0  # committed but not yet checkpointed: the next checkpoint writes it again

    def room_for(self, write_bytes: int) -> bool:
        return self.free_bytes - self.wal_bytes - 2 * max(write_bytes, 0) >= self.reserve_bytes

    @property
    def refusing_writes(self) -> bool:
        return self.reserve_bytes > 0 and not self.room_for(0)


class DiskSpaceGuard:
    """`check()` raises UNAVAILABLE (LOW_DISK_SPACE) when a write (and its checkpoint) would eat into the reserve."""

    def __init__(self, directory: Path | None, reserve_bytes: int,
                 free_bytes: Callable[[Path], int] = free_bytes_of, wal: Path | None = None) -> None:
        self.directory = directory  # None: an in-memory database, nothing to guard
        self.wal = wal
        self.reserve_bytes = reserve_bytes if directory is not None else 0
        self._free_bytes = free_bytes
        self._lock = threading.Lock()
        self._refusing = False  # for logging the transitions once
        self._last: DiskState | None = None
        self._read_at = 0.0

    def state(self) -> DiskState:
        if self.directory is None:
            return DiskState(0, 0)
        try:
            free = self._free_bytes(self.directory)
        except OSError:
            free = 0  # a volume we cannot even stat is no place to write
        wal = 0
        if self.wal is not None:
            try:
                wal = self.wal.stat().st_size
            except OSError:
                wal = 0  # no WAL: everything is checkpointed
        return DiskState(free, self.reserve_bytes, wal)

    def check(self, extra_bytes: int = 0, *, max_age: float = 0.0) -> None:
        """Raises Unavailable when the write of `extra_bytes` (and its checkpoint) would eat into the reserve.

        `max_age`: a reading that recent will do (the event loop's early check, which must not
        make a syscall per call); the writer asks afresh before every group.
        """
        if self.reserve_bytes <= 0:
            return
        now = time.monotonic()
        state = self._last
        # A recent reading that found room will do; one that found none is taken afresh, so that
        # writes resume the moment space comes back.
        if state is None or now - self._read_at > max_age or not state.room_for(extra_bytes):
            state = self._last = self.state()
            self._read_at = now
        refusing = not state.room_for(extra_bytes)
        self._log_transition(refusing, state)
        if refusing:
            raise low_disk_space(state, extra_bytes)

    def _log_transition(self, refusing: bool, state: DiskState) -> None:
        if refusing == self._refusing:
            return
        with self._lock:
            if refusing == self._refusing:
                return
            self._refusing = refusing
        fields = {"free_bytes": state.free_bytes, "reserve_bytes": state.reserve_bytes}
        if refusing:
            log.error("database volume below its free-space reserve; refusing writes", extra=fields)
        else:
            log.warning("database volume has room again; accepting writes", extra=fields)


def low_disk_space(state: DiskState | None = None, extra_bytes: int = 0) -> Unavailable:
    metadata = {"variable": RESERVE_VARIABLE}
    if state is not None:
        metadata.update(free_bytes=str(state.free_bytes), reserve_bytes=str(state.reserve_bytes),
                        wal_bytes=str(state.wal_bytes))
        if extra_bytes > 0:
            metadata["write_bytes"] = str(extra_bytes)
    return Unavailable("the database volume is nearly full; writes are refused until space is freed "
                       f"(reads go on; the reserve is {RESERVE_VARIABLE})",
                       retry_after_seconds=RETRY_AFTER_SECONDS, reason=LOW_DISK_SPACE, metadata=metadata)

"""MonitoringService.GetSystemMetrics: one sample of host, process, database and RPC state."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain.errors import FieldViolation, InvalidArgument
from .grpc_metrics import RpcTotals
from .sources import LiveSources
from .system import CpuSample, DiskSample, MemorySample, ProcessSample, sample_cpu, sample_disk, sample_memory
from .system import sample_process as sample_process_now

log = logging.getLogger(__name__)

DEFAULT_CPU_INTERVAL = 0.1
MAX_CPU_INTERVAL = 2.0


@dataclass(frozen=True)
class DatabaseSample:
    path: str
    file_bytes: int = 0
    wal_bytes: int = 0
    table_rows: dict[str, int] = field(default_factory=dict)
    pool: Any | None = None  # storage.pool.PoolStats
    write_queue_depth: int = 0


@dataclass(frozen=True)
class SystemMetricsSample:
    sample_time: datetime
    cpu: CpuSample
    memory: MemorySample
    disk: DiskSample
    process: ProcessSample
    database: DatabaseSample
    rpc: RpcTotals


def cpu_interval(seconds: float | None) -> float:
    """The requested sampling interval, validated; None means the default."""
    if seconds is None:
        return DEFAULT_CPU_INTERVAL
    if not 0 < seconds <= MAX_CPU_INTERVAL:
        message = f"cpu_interval must be more than 0 and at most {MAX_CPU_INTERVAL:g}s"
        raise InvalidArgument(message, violations=[FieldViolation("cpu_interval", message, "INVALID_CPU_INTERVAL")],
                              reason="INVALID_CPU_INTERVAL")
    return seconds


class SystemMetricsSampler:
    def __init__(self, sources: LiveSources) -> None:
        self._sources = sources

    def sample(self, interval: float) -> SystemMetricsSample:
        s = self._sources
        cpu = sample_cpu(interval)  # blocks for the interval: usage over a real interval
        return SystemMetricsSample(datetime.now(UTC), cpu, sample_memory(), sample_disk(s.database_path),
                                   sample_process_now(), self._database(), s.rpc_totals())

    def _database(self) -> DatabaseSample:
        s = self._sources
        files = s.files()
        writer = s.writer()
        try:
            rows = s.table_rows()
        except Exception:
            log.debug("row counts failed", exc_info=True)
            rows = {}
        return DatabaseSample(
            path=files.path if files is not None else s.database_path,
            file_bytes=files.file_bytes if files is not None else 0,
            wal_bytes=files.wal_bytes if files is not None else 0,
            table_rows=rows,
            pool=s.pool(),
            write_queue_depth=writer.queue_depth if writer is not None else 0,
        )

"""Host and process measurements through psutil, taken when asked (never cached).

`CpuMeter` turns two readings of cumulative cpu times into a percentage,
so every consumer gets usage over a real interval: GetSystemMetrics over
the interval the caller asks for, the health check and the Prometheus
gauge over the time since their previous reading.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class CpuSample:
    percent: float  # system-wide, 0-100
    process_percent: float  # this process; 100 = one cpu busy (psutil's convention)
    count: int
    interval_seconds: float


@dataclass(frozen=True)
class MemorySample:
    total_bytes: int
    available_bytes: int
    percent: float


@dataclass(frozen=True)
class DiskSample:
    path: str
    total_bytes: int
    free_bytes: int
    percent: float


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    rss_bytes: int
    threads: int
    open_files: int


def _busy_and_total(times: psutil._common.scputimes) -> tuple[float, float]:  # type: ignore[name-defined]
    # Linux counts guest time inside user time too (psutil's cpu_percent subtracts it likewise).
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


def _percent(before: tuple[float, float], after: tuple[float, float]) -> float:
    busy = after[0] - before[0]
    total = after[1] - before[1]
    return max(0.0, min(100.0, 100.0 * busy / total)) if total > 0 else 0.0


class CpuMeter:
    """Cpu usage since the previous reading (the first reading: since boot, resp. process start)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process = psutil.Process()
        self._last: tuple[float, tuple[float, float], float] | None = None

    def read(self) -> CpuSample:
        with self._lock:
            now = time.monotonic()
            system = _busy_and_total(psutil.cpu_times())
            process = _process_cpu_seconds(self._process)
            if self._last is None:
                interval = max(time.time() - psutil.boot_time(), 1e-9)
                percent = _percent((0.0, 0.0), system)
                process_percent = 100.0 * process / max(time.time() - self._process.create_time(), 1e-9)
            else:
                last_time, last_system, last_process = self._last
                interval = max(now - last_time, 1e-9)
                percent = _percent(last_system, system)
                process_percent = 100.0 * (process - last_process) / interval
            self._last = (now, system, process)
        return CpuSample(percent, max(0.0, process_percent), psutil.cpu_count() or 1, interval)


def sample_cpu(interval: float) -> CpuSample:
    """Blocks for `interval` seconds and reports usage over exactly that interval."""
    process = psutil.Process()
    started = time.monotonic()
    system_before = _busy_and_total(psutil.cpu_times())
    process_before = _process_cpu_seconds(process)
    time.sleep(interval)
    elapsed = max(time.monotonic() - started, 1e-9)
    percent = _percent(system_before, _busy_and_total(psutil.cpu_times()))
    process_percent = 100.0 * (_process_cpu_seconds(process) - process_before) / elapsed
    return CpuSample(percent, max(0.0, process_percent), psutil.cpu_count() or 1, elapsed)


def _process_cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def sample_memory() -> MemorySample:
    memory = psutil.virtual_memory()
    return MemorySample(int(memory.total), int(memory.available), float(memory.percent))


def sample_disk(file_path: str | Path) -> DiskSample:
    """Usage of the volume holding the file, measured at its directory (or the nearest existing ancestor)."""
    target = Path(file_path).resolve().parent
    while not target.exists() and target != target.parent:
        target = target.parent
    usage = psutil.disk_usage(str(target))
    return DiskSample(str(target), int(usage.total), int(usage.free), float(usage.percent))


def sample_process() -> ProcessSample:
    process = psutil.Process()
    with process.oneshot():
        rss = process.memory_info().rss
        threads = process.num_threads()
    try:
        open_files = len(process.open_files())
    except psutil.Error:
        open_files = 0
    return ProcessSample(os.getpid(), int(rss), int(threads), open_files)

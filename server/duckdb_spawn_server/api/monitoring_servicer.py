"""MonitoringService: protos in, observability calls, protos out."""

from __future__ import annotations

import grpc
from duckdb_spawn.v1 import monitoring_service_pb2 as pb
from google.protobuf import duration_pb2, struct_pb2

from ..domain.durations import duration_seconds
from ..domain.names import table_name
from ..observability.checks import CheckResult, HealthReport, HealthReporter, Status
from ..observability.system_metrics import SystemMetricsSample, SystemMetricsSampler, cpu_interval
from .convert import timestamp
from .offload import Offloader

_STATUS = {
    Status.HEALTHY: pb.HEALTH_STATUS_HEALTHY,
    Status.DEGRADED: pb.HEALTH_STATUS_DEGRADED,
    Status.UNHEALTHY: pb.HEALTH_STATUS_UNHEALTHY,
}


class MonitoringServicer:
    def __init__(self, reporter: HealthReporter, sampler: SystemMetricsSampler, offload: Offloader) -> None:
        self._reporter = reporter
        self._sampler = sampler
        self._offload = offload

    async def GetHealth(self, request: pb.GetHealthRequest, context: grpc.aio.ServicerContext) -> pb.Health:
        return health_to_proto(await self._offload.run(context, self._reporter.report))

    async def GetSystemMetrics(self, request: pb.GetSystemMetricsRequest,
                               context: grpc.aio.ServicerContext) -> pb.SystemMetrics:
        interval = request.cpu_interval
        requested = (duration_seconds(interval.seconds, interval.nanos, "cpu_interval")
                     if request.HasField("cpu_interval") else None)
        sample = await self._offload.run(context, self._sampler.sample, cpu_interval(requested))
        return system_metrics_to_proto(sample)


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    return duration


def _check(result: CheckResult) -> pb.HealthCheck:
    observed = struct_pb2.Struct()
    observed.update(result.observed)
    return pb.HealthCheck(name=result.name, status=_STATUS[result.status], message=result.message,
                          observed=observed, duration=_duration(result.duration_seconds))


def health_to_proto(report: HealthReport) -> pb.Health:
    return pb.Health(status=_STATUS[report.status], checks=[_check(c) for c in report.checks],
                     version=report.version, uptime=_duration(report.uptime_seconds),
                     start_time=timestamp(report.start_time))


def system_metrics_to_proto(sample: SystemMetricsSample) -> pb.SystemMetrics:
    db = sample.database
    pool = db.pool
    return pb.SystemMetrics(
        sample_time=timestamp(sample.sample_time),
        cpu=pb.CpuMetrics(percent=sample.cpu.percent, count=sample.cpu.count,
                          process_percent=sample.cpu.process_percent),
        memory=pb.MemoryMetrics(total_bytes=sample.memory.total_bytes, available_bytes=sample.memory.available_bytes,
                                percent=sample.memory.percent),
        disk=pb.DiskMetrics(path=sample.disk.path, total_bytes=sample.disk.total_bytes,
                            free_bytes=sample.disk.free_bytes, percent=sample.disk.percent),
        process=pb.ProcessMetrics(pid=sample.process.pid, rss_bytes=sample.process.rss_bytes,
                                  threads=sample.process.threads, open_files=sample.process.open_files),
        database=pb.DatabaseMetrics(
            path=db.path, file_size_bytes=db.file_bytes, wal_size_bytes=db.wal_bytes,
            tables=[pb.TableRowCount(table=table_name(table), row_count=count)
                    for table, count in sorted(db.table_rows.items())],
            pool_in_use=pool.in_use if pool else 0, pool_idle=pool.idle if pool else 0,
            pool_waiting=pool.waiting if pool else 0,
            pool_mean_wait=_duration(pool.mean_wait_seconds if pool else 0.0),
            write_queue_depth=db.write_queue_depth),
        rpc=pb.RpcMetrics(started_total=sample.rpc.started, handled_total=sample.rpc.handled,
                          failed_total=sample.rpc.failed, in_flight=sample.rpc.in_flight),
    )

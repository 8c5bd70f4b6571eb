"""MonitoringService: protos in, observability calls, protos out."""

from __future__ import annotations

import grpc
from duckdb_spawn.v1 import monitoring_service_pb2 as pb
from duckdb_spawn.v1 import monitoring_service_pb2_grpc as pb_grpc
from google.protobuf import duration_pb2, struct_pb2

from ..observability.checks import CheckResult, HealthReport, HealthReporter, Status
from .convert import timestamp

_STATUS = {
    Status.HEALTHY: pb.HEALTH_STATUS_HEALTHY,
    Status.DEGRADED: pb.HEALTH_STATUS_DEGRADED,
    Status.UNHEALTHY: pb.HEALTH_STATUS_UNHEALTHY,
}


class MonitoringServicer(pb_grpc.MonitoringServiceServicer):
    def __init__(self, reporter: HealthReporter) -> None:
        self._reporter = reporter

    def GetHealth(self, request: pb.GetHealthRequest, context: grpc.ServicerContext) -> pb.Health:
        return health_to_proto(self._reporter.report())


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

import datetime

from google.api import client_pb2 as _client_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEALTH_STATUS_UNSPECIFIED: _ClassVar[HealthStatus]
    HEALTH_STATUS_HEALTHY: _ClassVar[HealthStatus]
    HEALTH_STATUS_DEGRADED: _ClassVar[HealthStatus]
    HEALTH_STATUS_UNHEALTHY: _ClassVar[HealthStatus]
HEALTH_STATUS_UNSPECIFIED: HealthStatus
HEALTH_STATUS_HEALTHY: HealthStatus
HEALTH_STATUS_DEGRADED: HealthStatus
HEALTH_STATUS_UNHEALTHY: HealthStatus

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheck(_message.Message):
    __slots__ = ("name", "status", "message", "observed", "duration")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: HealthStatus
    message: str
    observed: _struct_pb2.Struct
    duration: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., status: _Optional[_Union[HealthStatus, str]] = ..., message: _Optional[str] = ..., observed: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Health(_message.Message):
    __slots__ = ("status", "checks", "version", "uptime", "start_time")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    status: HealthStatus
    checks: _containers.RepeatedCompositeFieldContainer[HealthCheck]
    version: str
    uptime: _duration_pb2.Duration
    start_time: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[HealthStatus, str]] = ..., checks: _Optional[_Iterable[_Union[HealthCheck, _Mapping]]] = ..., version: _Optional[str] = ..., uptime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetSystemMetricsRequest(_message.Message):
    __slots__ = ("cpu_interval",)
    CPU_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    cpu_interval: _duration_pb2.Duration
    def __init__(self, cpu_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CpuMetrics(_message.Message):
    __slots__ = ("percent", "count", "process_percent")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PROCESS_PERCENT_FIELD_NUMBER: _ClassVar[int]
    percent: float
    count: int
    process_percent: float
    def __init__(self, percent: _Optional[float] = ..., count: _Optional[int] = ..., process_percent: _Optional[float] = ...) -> None: ...

class MemoryMetrics(_message.Message):
    __slots__ = ("total_bytes", "available_bytes", "percent")
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    total_bytes: int
    available_bytes: int
    percent: float
    def __init__(self, total_bytes: _Optional[int] = ..., available_bytes: _Optional[int] = ..., percent: _Optional[float] = ...) -> None: ...

class DiskMetrics(_message.Message):
    __slots__ = ("path", "total_bytes", "free_bytes", "percent")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    path: str
    total_bytes: int
    free_bytes: int
    percent: float
    def __init__(self, path: _Optional[str] = ..., total_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., percent: _Optional[float] = ...) -> None: ...

class ProcessMetrics(_message.Message):
    __slots__ = ("pid", "rss_bytes", "threads", "open_files")
    PID_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    THREADS_FIELD_NUMBER: _ClassVar[int]
    OPEN_FILES_FIELD_NUMBER: _ClassVar[int]
    pid: int
    rss_bytes: int
    threads: int
    open_files: int
    def __init__(self, pid: _Optional[int] = ..., rss_bytes: _Optional[int] = ..., threads: _Optional[int] = ..., open_files: _Optional[int] = ...) -> None: ...

class TableRowCount(_message.Message):
    __slots__ = ("table", "row_count")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    table: str
    row_count: int
    def __init__(self, table: _Optional[str] = ..., row_count: _Optional[int] = ...) -> None: ...

class DatabaseMetrics(_message.Message):
    __slots__ = ("path", "file_size_bytes", "wal_size_bytes", "tables", "pool_in_use", "pool_idle", "pool_waiting", "pool_mean_wait", "write_queue_depth")
    PATH_FIELD_NUMBER: _ClassVar[int]
    FILE_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    WAL_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    POOL_IN_USE_FIELD_NUMBER: _ClassVar[int]
    POOL_IDLE_FIELD_NUMBER: _ClassVar[int]
    POOL_WAITING_FIELD_NUMBER: _ClassVar[int]
    POOL_MEAN_WAIT_FIELD_NUMBER: _ClassVar[int]
    WRITE_QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    path: str
    file_size_bytes: int
    wal_size_bytes: int
    tables: _containers.RepeatedCompositeFieldContainer[TableRowCount]
    pool_in_use: int
    pool_idle: int
    pool_waiting: int
    pool_mean_wait: _duration_pb2.Duration
    write_queue_depth: int
    def __init__(self, path: _Optional[str] = ..., file_size_bytes: _Optional[int] = ..., wal_size_bytes: _Optional[int] = ..., tables: _Optional[_Iterable[_Union[TableRowCount, _Mapping]]] = ..., pool_in_use: _Optional[int] = ..., pool_idle: _Optional[int] = ..., pool_waiting: _Optional[int] = ..., pool_mean_wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., write_queue_depth: _Optional[int] = ...) -> None: ...

class RpcMetrics(_message.Message):
    __slots__ = ("started_total", "handled_total", "failed_total", "in_flight")
    STARTED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    HANDLED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FAILED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    started_total: int
    handled_total: int
    failed_total: int
    in_flight: int
    def __init__(self, started_total: _Optional[int] = ..., handled_total: _Optional[int] = ..., failed_total: _Optional[int] = ..., in_flight: _Optional[int] = ...) -> None: ...

class SystemMetrics(_message.Message):
    __slots__ = ("sample_time", "cpu", "memory", "disk", "process", "database", "rpc")
    SAMPLE_TIME_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    DISK_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    RPC_FIELD_NUMBER: _ClassVar[int]
    sample_time: _timestamp_pb2.Timestamp
    cpu: CpuMetrics
    memory: MemoryMetrics
    disk: DiskMetrics
    process: ProcessMetrics
    database: DatabaseMetrics
    rpc: RpcMetrics
    def __init__(self, sample_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cpu: _Optional[_Union[CpuMetrics, _Mapping]] = ..., memory: _Optional[_Union[MemoryMetrics, _Mapping]] = ..., disk: _Optional[_Union[DiskMetrics, _Mapping]] = ..., process: _Optional[_Union[ProcessMetrics, _Mapping]] = ..., database: _Optional[_Union[DatabaseMetrics, _Mapping]] = ..., rpc: _Optional[_Union[RpcMetrics, _Mapping]] = ...) -> None: ...

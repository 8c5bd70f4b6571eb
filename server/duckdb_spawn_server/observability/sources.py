"""Where observability reads the service's live state (metrics scrapes, GetSystemMetrics).

The Application fills one `LiveSources` with callables over its components;
storage sources answer None until the database is open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .checks import HealthReport
from .grpc_metrics import RpcTotals
from .schema_status import SchemaCacheSnapshot


@dataclass
class LiveSources:
    """Callables over the Application's components, read afresh on every use."""

    version: str
    start_time_seconds: float
    database_path: str
    ready: Callable[[], bool]
    health: Callable[[], HealthReport]
    ontology_up: Callable[[], bool | None]
    rpc_totals: Callable[[], RpcTotals]
    pool: Callable[[], Any | None]  # storage.pool.PoolStats
    writer: Callable[[], Any | None]  # storage.writer.WriterStats
    files: Callable[[], Any | None]  # storage.probe.FileSizes
    table_rows: Callable[[], dict[str, int]]
    schema_cache: Callable[[], Sequence[SchemaCacheSnapshot]]
    change_feed: Callable[[], ChangeFeedFigures | None] = lambda: None


@dataclass(frozen=True)
class ChangeFeedFigures:
    """The change log and its watchers, for the metrics (None from `change_feed`: the log is off)."""

    log_size: int  # changes retained
    oldest_age_seconds: float  # age of the oldest retained change
    watchers: int  # WatchProjects streams open
    delivered: int  # changes sent to watchers since start

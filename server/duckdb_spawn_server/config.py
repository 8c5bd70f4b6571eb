"""Every environment variable the service reads, parsed and validated in one place.

`VARIABLES` is the single list: the loader, the README table and the Helm
chart's tests all derive from it. A bad value raises `ConfigError` naming the
variable; `main` prints it on one line and exits with status 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse


class ConfigError(ValueError):
    """An invalid configuration value; the message names the variable."""


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip())
        if not low <= value <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return value

    return parse


def _float_range(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text.strip())
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low} to {high}")
        return value

    return parse


def _http_url(text: str) -> str:
    parsed = urlparse(text.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("expected an http:// or https:// URL")
    return text.strip().rstrip("/")


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _memory_limit(text: str) -> str:
    value = text.strip()
    if value and not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise ValueError("expected a size such as 512MB or 2GiB")
    return value


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _host(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,255}", value):
        raise ValueError("expected a host name or IP address")
    return value


def _auto_migrate(text: str) -> str:
    value = text.strip().lower()
    if value not in ("additive", "off"):
        raise ValueError("expected additive or off")
    return value


def _schema_ids(text: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    if not ids:
        raise ValueError("expected a comma-separated list of schema ids")
    for schema_id in ids:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", schema_id):
            raise ValueError(f"schema id {schema_id[:40]!r} has characters outside A-Z a-z 0-9 _ . -")
    return ids


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default (as text), parser and meaning."""

    name: str
    field: str
    default: str
    parse: Callable[[str], Any]
    doc: str


VARIABLES: tuple[Variable, ...] = (
    Variable("GRPC_HOST", "grpc_host", "0.0.0.0", _host, "Address the gRPC server binds to."),
    Variable("GRPC_PORT", "grpc_port", "50051", _int_range(0, 65535), "gRPC port (0 picks a free port)."),
    Variable("METRICS_PORT", "metrics_port", "9464", _int_range(0, 65535),
             "Prometheus /metrics HTTP port (0 picks a free port)."),
    Variable("METRICS_ENABLED", "metrics_enabled", "true", _bool, "Serve Prometheus /metrics."),
    Variable("GRPC_MAX_WORKERS", "grpc_max_workers", "64", _int_range(1, 1024),
             "Threads serving RPCs; writes waiting on the same group commit each hold one."),
    Variable("GRPC_MAX_CONCURRENT_RPCS", "grpc_max_concurrent_rpcs", "256", _int_range(1, 100_000),
             "RPCs accepted at once; more get RESOURCE_EXHAUSTED."),
    Variable("DUCKDB_PATH", "duckdb_path", "data_product.db", _nonempty,
             "DuckDB database file (its directory is created)."),
    Variable("DUCKDB_THREADS", "duckdb_threads", "0", _int_range(0, 1024),
             "DuckDB worker threads (0: one per cpu)."),
    Variable("DUCKDB_MEMORY_LIMIT", "duckdb_memory_limit", "", _memory_limit,
             "DuckDB memory limit such as 1GB (empty: DuckDB's default, 80% of RAM)."),
    Variable("DUCKDB_POOL_SIZE", "duckdb_pool_size", "8", _int_range(1, 256), "Read connections in the pool."),
    Variable("WRITE_QUEUE_SIZE", "write_queue_size", "10000", _int_range(1, 1_000_000),
             "Writes waiting for the writer before callers get UNAVAILABLE."),
    Variable("WRITE_GROUP_MAX", "write_group_max", "1024", _int_range(1, 100_000),
             "Most writes committed in one group transaction."),
    Variable("ONTO_SERVER_URL", "onto_server_url", "http://localhost:8001", _http_url,
             "Base URL of the ontology server."),
    Variable("ONTO_SERVER_TIMEOUT", "onto_server_timeout", "5", _float_range(0.05, 300),
             "Seconds to wait for the ontology server."),
    Variable("USE_MOCK_ONTO_SERVER", "use_mock_onto_server", "true", _bool,
             "Serve the built-in mock schemas until the ontology server answers (false: never)."),
    Variable("ONTO_SCHEMA_IDS", "onto_schema_ids", "project_schema", _schema_ids,
             "Comma-separated ids of the schemas (and so tables) this service hosts."),
    Variable("ONTO_CACHE_TTL", "onto_cache_ttl", "60", _float_range(0.1, 86_400),
             "Seconds a fetched schema is fresh before it is revalidated."),
    Variable("AUTO_MIGRATE", "auto_migrate", "additive", _auto_migrate,
             "When a refreshed schema arrives: additive applies its safe migration steps; off applies none."),
    Variable("LOG_LEVEL", "log_level", "INFO", _log_level, "DEBUG, INFO, WARNING, ERROR or CRITICAL."),
    Variable("SHUTDOWN_DRAIN_SECONDS", "shutdown_drain_seconds", "5", _float_range(0, 3600),
             "After SIGTERM: seconds readiness reports NOT_SERVING before the server stops accepting."),
    Variable("SHUTDOWN_GRACE_SECONDS", "shutdown_grace_seconds", "10", _float_range(0, 3600),
             "Then: seconds in-flight RPCs get to finish before they are cancelled."),
)


@dataclass(frozen=True)
class Settings:
    grpc_host: str
    grpc_port: int
    metrics_port: int
    metrics_enabled: bool
    grpc_max_workers: int
    grpc_max_concurrent_rpcs: int
    duckdb_path: str
    duckdb_threads: int
    duckdb_memory_limit: str
    duckdb_pool_size: int
    write_queue_size: int
    write_group_max: int
    onto_server_url: str
    onto_server_timeout: float
    use_mock_onto_server: bool
    onto_schema_ids: tuple[str, ...]
    onto_cache_ttl: float
    auto_migrate: str
    log_level: str
    shutdown_drain_seconds: float
    shutdown_grace_seconds: float


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Reads every variable from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for variable in VARIABLES:
        text = env.get(variable.name, variable.default)
        try:
            values[variable.field] = variable.parse(text)
        except ValueError as error:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise ConfigError(f"{variable.name}={shown!r} is invalid: {error}") from None
    return Settings(**values)

"""Every environment variable the service reads, parsed and validated in one place.

`Settings` declares each variable once, as a typed field; `VARIABLES`, the
loader, the README table and the Helm chart's tests all derive from it, and
sections such as `Limits` are built from the fields that share their names. A bad value raises `ConfigError` naming the
variable; `main` prints it on one line and exits with status 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar
from urllib.parse import urlparse

# Ceilings the domain enforces whatever the configuration says: a larger setting would be silently ineffective.
from .domain import filter_syntax, limits

T = TypeVar("T")


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


_SIZE = r"\d+(?:\.\d+)?\s*(?:B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)"
_UNIT_BYTES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _memory_limit(text: str) -> str:
    """A size for DuckDB, or `P% of SIZE` resolved here to whole MiB.

    The share form exists for Kubernetes: the downward API can hand over the
    container's memory limit but cannot do arithmetic, and DuckDB must leave
    headroom under that limit for the rest of the process.
    """
    value = text.strip()
    share = re.fullmatch(rf"(\d+(?:\.\d+)?)\s*%\s*of\s*({_SIZE})", value, re.IGNORECASE)
    if share:
        percent = float(share.group(1))
        if not 0 < percent <= 100:
            raise ValueError("expected a share above 0% and at most 100%")
        number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(\w+)", share.group(2)).groups()
        mebibytes = int(float(number) * _UNIT_BYTES[unit.upper()] * percent / 100) // 2**20
        if mebibytes < 1:
            raise ValueError("the share is less than 1MiB")
        return f"{mebibytes}MiB"
    if value and not re.fullmatch(_SIZE, value, re.IGNORECASE):
        raise ValueError("expected a size such as 512MB or 2GiB, or a share such as 75% of 2048MiB")
    return value


def _size_bytes(text: str) -> int:
    """A size such as 128MiB or 1GB (0 allowed) -> bytes."""
    value = text.strip()
    if value == "0":
        return 0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE)
    if not match:
        raise ValueError("expected a size such as 128MiB or 1GB, or 0")
    return int(float(match.group(1)) * _UNIT_BYTES[match.group(2).upper()])


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


def _path_or_empty(text: str) -> str:
    value = text.strip()
    if "\x00" in value:
        raise ValueError("expected a file path")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError("expected " + ", ".join(choices[:-1]) + " or " + choices[-1])
        return value

    return parse


def _conninfo(text: str) -> str:
    value = text.strip()
    if "\x00" in value or "\n" in value:
        raise ValueError("expected a libpq connection string on one line")
    return value


def _data_path(text: str) -> str:
    value = text.strip()
    if not value:
        return ""
    if "'" in value or "\x00" in value:
        raise ValueError("expected a directory or an s3://bucket/prefix/ URL without quotes")
    if value.startswith("s3://"):
        return value if value.endswith("/") else value + "/"
    return str(os.path.abspath(os.path.expanduser(value))).rstrip("/") + "/"


def _identifier(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
        raise ValueError("expected a PostgreSQL identifier (letters, digits, _)")
    return value


_ROLES = ("reader", "writer", "admin")


def _client_roles(text: str) -> tuple[tuple[str, str], ...]:
    """`common-name:role,...` -> ((common name, role), ...)."""
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, role = part.rpartition(":")
        if not sep or not name.strip() or role.strip().lower() not in _ROLES:
            raise ValueError("expected common-name:role pairs separated by commas, role reader, writer or admin")
        pairs.append((name.strip(), role.strip().lower()))
    return tuple(pairs)


def variable(default: str, parse: Callable[[str], Any], doc: str) -> Any:
    """Declares a Settings field as an environment variable: the field's name upper-cased."""
    return field(metadata={"default": default, "parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """Every variable, declared once: name (the field's, upper-cased), type, default, parser, meaning."""

    grpc_host: str = variable("0.0.0.0", _host, "Address the gRPC server binds to.")
    grpc_port: int = variable("50051", _int_range(0, 65535), "gRPC port (0 picks a free port).")
    health_port: int = variable("0", _int_range(0, 65535),
        "Plaintext port serving only grpc.health.v1 (no auth), for probes that cannot speak TLS "
        "(0: none; the Helm chart sets it when TLS is on).")
    metrics_port: int = variable("9464", _int_range(0, 65535),
        "Prometheus /metrics HTTP port (0 picks a free port).")
    metrics_enabled: bool = variable("true", _bool, "Serve Prometheus /metrics.")
    grpc_max_workers: int = variable("16", _int_range(1, 1024),
        "Threads for the blocking part of RPCs (database queries, imports, exports); RPCs themselves run "
        "on one event loop, so idle streams and writes waiting for their group commit hold none.")
    grpc_max_concurrent_rpcs: int = variable("256", _int_range(1, 100_000),
        "Unary RPCs accepted at once (health checks excepted); more get RESOURCE_EXHAUSTED.")
    grpc_max_concurrent_streams: int = variable("100", _int_range(1, 100_000),
        "Streaming RPCs (imports, exports, watches) open at once, apart from the unary ones; more get "
        "RESOURCE_EXHAUSTED.")
    stream_idle_timeout: float = variable("30", _float_range(0.1, 86_400),
        "Seconds a client stream (ImportProjects) may wait for its next message before it is ended "
        "with DEADLINE_EXCEEDED.")
    query_timeout: float = variable("60", _float_range(0.001, 86_400),
        "Seconds one database step of an RPC may run (a query, a page of an export), within the call's "
        "own deadline; then it is interrupted and the call gets DEADLINE_EXCEEDED.")
    duckdb_path: str = variable("data_product.db", _nonempty,
        "DuckDB database file (its directory is created).")
    duckdb_threads: int = variable("0", _int_range(0, 1024),
        "DuckDB worker threads (0: one per cpu).")
    duckdb_memory_limit: str = variable("", _memory_limit,
        "DuckDB memory limit such as 1GB, or a share of a size such as 75% of 2048MiB "
        "(empty: 75% of the container's memory limit (cgroup), or without one DuckDB's default, 80% of RAM).")
    duckdb_pool_size: int = variable("8", _int_range(1, 256), "Read connections in the pool.")
    # -- the storage engine: the embedded file, or a DuckLake shared by replicas (README "Scale-out") --
    storage_backend: str = variable(
        "file", _choice("file", "ducklake"),
        "file: one DuckDB file (DUCKDB_PATH), one replica. ducklake: a DuckLake whose catalog is in PostgreSQL "
        "(LAKE_CATALOG) and whose Parquet files are in LAKE_DATA_PATH; DUCKDB_PATH's directory then holds "
        "only local scratch (import spools, extensions, the schema copies).")
    lake_catalog: str = variable(
        "", _conninfo,
        "libpq connection string of the lake's PostgreSQL catalog, e.g. 'host=pg dbname=lake user=spawn' "
        "(a password here or in PGPASSWORD; never logged).")
    lake_data_path: str = variable(
        "", _data_path, "Where the lake's Parquet files live: a directory on a volume every replica mounts, "
        "or s3://bucket/prefix/.")
    lake_metadata_schema: str = variable(
        "ducklake", _identifier, "PostgreSQL schema holding the lake's catalog tables.")
    lake_maintenance_interval: float = variable(
        "300", _float_range(0.5, 86_400),
        "Seconds between the lake leader's maintenance rounds (flush inlined rows, merge files, expire snapshots, "
        "delete unused files); one replica leads at a time.")
    lake_snapshot_retention: float = variable(
        "86400", _float_range(0, 31_536_000), "Seconds a lake snapshot stays readable before the leader expires it.")
    lake_s3_endpoint: str = variable(
        "", _path_or_empty, "host:port of an S3-compatible endpoint for an s3:// LAKE_DATA_PATH (empty: AWS).")
    lake_s3_region: str = variable("us-east-1", _nonempty, "S3 region.")
    lake_s3_access_key_id: str = variable("", _path_or_empty, "S3 access key id (never logged).")
    lake_s3_secret_access_key: str = variable("", _path_or_empty, "S3 secret access key (never logged).")
    lake_s3_url_style: str = variable("vhost", _choice("vhost", "path"),
                                      "S3 addressing: vhost, or path (most S3-compatible servers).")
    lake_s3_use_ssl: bool = variable("true", _bool, "Reach the S3 endpoint over TLS.")
    read_cache_entries: int = variable("100000", _int_range(0, 100_000_000),
        "Projects kept in memory for GetProject, coherent with every write (0: none).")
    disk_free_reserve: int = variable("128MiB", _size_bytes,
        "Free space kept on the database volume: below it writes get UNAVAILABLE (LOW_DISK_SPACE) and "
        "resume by themselves once space is freed; reads go on. DuckDB checkpoints whenever its WAL "
        "reaches a quarter of it (at most 16MiB), so a checkpoint always fits (0: no reserve).")
    write_queue_size: int = variable("10000", _int_range(1, 1_000_000),
        "Writes waiting for the writer before callers get UNAVAILABLE.")
    write_group_max: int = variable("1024", _int_range(1, 100_000),
        "Most writes committed in one group transaction.")
    write_group_delay_ms: float = variable("2", _float_range(0, 100),
        "When writes arrive concurrently, the writer keeps gathering a group while the next write "
        "arrives within this many milliseconds, for at most 10 times as long in all (fewer, larger "
        "transactions; 0: commit at once).")
    onto_server_url: str = variable("http://localhost:8001", _http_url,
        "Base URL of the ontology server.")
    onto_server_timeout: float = variable("5", _float_range(0.05, 300),
        "Seconds to wait for the ontology server.")
    use_mock_onto_server: bool = variable("true", _bool,
        "Serve the built-in mock schemas while neither the ontology server nor a saved copy has given one; "
        "GetHealth is DEGRADED meanwhile (false: never).")
    onto_schema_ids: tuple[str, ...] = variable("project_schema", _schema_ids,
        "Comma-separated ids of the schemas (and so tables) this service hosts.")
    onto_cache_ttl: float = variable("60", _float_range(0.1, 86_400),
        "Seconds a fetched schema is fresh before it is revalidated.")
    onto_health_cache_seconds: float = variable("10", _float_range(0, 3600),
        "Seconds GetHealth reuses the ontology server's /health answer.")
    health_probe_interval: float = variable("5", _float_range(0.05, 3600),
        "Seconds between background probes that keep readiness true (database query, schema loaded).")
    health_database_timeout: float = variable("2", _float_range(0.05, 60),
        "Seconds the database health query may take before the database counts as not answering.")
    auto_migrate: str = variable("additive", _auto_migrate,
        "When a refreshed schema arrives: additive applies its safe migration steps; off applies none.")
    log_level: str = variable("INFO", _log_level, "DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    request_id_retention_seconds: float = variable("86400", _float_range(1, 31_536_000),
        "How long a request id (AIP-155) is remembered: a retry within it returns the first result.")
    # -- the change feed (ListProjectChanges, WatchProjects, read_time) -------------------------
    change_log: bool = variable("true", _bool,
        "Log every committed change with a position (the change feed and read_time); false turns both off.")
    change_retention: float = variable("604800", _float_range(0, 315_360_000),
        "Seconds a change stays in the log (and read_time can reach back); 0: no limit by age.")
    change_retention_count: int = variable("0", _int_range(0, 10_000_000_000),
        "Most changes the log keeps (the oldest go first); 0: no limit by count.")
    change_compaction_interval: float = variable("60", _float_range(0.05, 86_400),
        "Seconds between passes that delete changes outside the retention (on a lake, by the leader).")
    watch_progress_interval: float = variable("5", _float_range(0.05, 300),
        "Seconds a WatchProjects stream stays silent before a progress message with the latest position.")
    watch_poll_interval: float = variable("1", _float_range(0.01, 60),
        "On a lake: seconds between looks for changes other replicas committed (one query per replica).")
    max_watchers: int = variable("1000", _int_range(0, 1_000_000),
        "Most WatchProjects streams open at once; above it, RESOURCE_EXHAUSTED.")
    shutdown_drain_seconds: float = variable("5", _float_range(0, 3600),
        "After SIGTERM: seconds readiness reports NOT_SERVING before new calls are turned away.")
    shutdown_grace_seconds: float = variable("10", _float_range(0, 3600),
        "Then: seconds in-flight RPCs get to finish before they are cancelled.")
    # -- security: authentication, TLS (see the README's Security section) --------------------
    auth_tokens_file: str = variable("", _path_or_empty,
        "JSON file of bearer tokens with their names and roles (empty: a generated admin token only).")
    auth_admin_token_file: str = variable("", _path_or_empty,
        "Without AUTH_TOKENS_FILE: where the generated admin token is kept, mode 0600 "
        "(empty: admin.token beside the database).")
    auth_required: bool = variable("false", _bool,
        "Every RPC (except health) needs a token or mapped client certificate.")
    auth_anonymous_role: str = variable("writer", _choice("none", "reader", "writer"),
        "Role of callers without credentials while AUTH_REQUIRED is false (never admin).")
    grpc_reflection: str = variable("open", _choice("open", "authenticated", "off"),
        "Server reflection: open (behind authentication when AUTH_REQUIRED), authenticated "
        "(a token or mapped certificate) or off.")
    tls_cert_file: str = variable("", _path_or_empty,
        "PEM server certificate chain; with TLS_KEY_FILE turns TLS on (empty: plaintext).")
    tls_key_file: str = variable("", _path_or_empty, "PEM private key of TLS_CERT_FILE.")
    tls_client_ca_file: str = variable("", _path_or_empty,
        "PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS).")
    tls_client_roles: tuple[tuple[str, str], ...] = variable("", _client_roles,
        "Client certificate common name -> role, as cn:role pairs separated by commas.")
    # -- limits (each refusal names its variable) ----------------------------------------------
    grpc_max_message_bytes: int = variable(str(16 * 1024 * 1024),
        _int_range(64 * 1024, 2**31 - 1),
        "Largest message received or sent; larger ones get RESOURCE_EXHAUSTED.")
    max_attributes: int = variable("256", _int_range(1, 100_000),
        "Most attributes in one project; more is INVALID_ARGUMENT.")
    max_attribute_bytes: int = variable("65536", _int_range(16, 2**31 - 1),
        "Most bytes of one attribute (name plus encoded value); more is INVALID_ARGUMENT.")
    max_filter_length: int = variable("2048", _int_range(1, filter_syntax.MAX_FILTER_LENGTH),
        f"Most characters in a filter (at most {filter_syntax.MAX_FILTER_LENGTH}); more is INVALID_ARGUMENT.")
    max_filter_terms: int = variable("50", _int_range(1, filter_syntax.MAX_FILTER_TERMS),
        f"Most terms (comparisons) in a filter (at most {filter_syntax.MAX_FILTER_TERMS}); more is INVALID_ARGUMENT.")
    max_order_by_length: int = variable("512", _int_range(1, 100_000),
        "Most characters in order_by; more is INVALID_ARGUMENT.")
    max_page_size: int = variable("1000", _int_range(1, limits.PAGE_SIZE_CEILING),
        f"Largest page (at most {limits.PAGE_SIZE_CEILING}); a larger page_size is served as this many (AIP-158).")
    max_batch_size: int = variable("1000", _int_range(1, limits.BATCH_SIZE_CEILING),
        f"Most requests in one BatchCreateProjects (at most {limits.BATCH_SIZE_CEILING}); more is INVALID_ARGUMENT.")
    max_import_rows_per_message: int = variable("10000", _int_range(1, 10_000_000),
        "Most rows in one ImportProjects message; more is INVALID_ARGUMENT.")
    max_import_rows: int = variable("0", _int_range(0, 10**12),
        "Most rows in one ImportProjects stream, a guard against abuse; more is RESOURCE_EXHAUSTED "
        "(0: no cap; an import of any size streams through in bounded memory, and the disk guard "
        "refuses one the volume cannot hold).")
    rate_limit_per_second: float = variable("0", _float_range(0, 1_000_000),
        "Calls per second each principal may make on average (0: no rate limit); "
        "more get RESOURCE_EXHAUSTED with RetryInfo.")
    rate_limit_burst: int = variable("100", _int_range(1, 1_000_000),
        "Calls a principal may make at once before RATE_LIMIT_PER_SECOND applies.")

    def section(self, target: type[T]) -> T:
        """A dataclass of settings whose fields are named as variables here (e.g. `Limits`)."""
        return target(**{f.name: getattr(self, f.name) for f in fields(target)})  # type: ignore[call-arg]


@dataclass(frozen=True)
class Variable:
    """One environment variable as the README and the chart's tests see it."""

    name: str
    field: str
    default: str
    parse: Callable[[str], Any]
    doc: str


VARIABLES: tuple[Variable, ...] = tuple(
    Variable(f.name.upper(), f.name, f.metadata["default"], f.metadata["parse"], f.metadata["doc"])
    for f in fields(Settings))


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
    settings = Settings(**values)
    _check_combinations(settings)
    return settings


def _check_combinations(settings: Settings) -> None:
    """Rules that involve more than one variable."""
    taken = {settings.grpc_port, settings.metrics_port if settings.metrics_enabled else 0}
    if settings.health_port and settings.health_port in taken:
        raise ConfigError("HEALTH_PORT must differ from GRPC_PORT and METRICS_PORT")
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
    if settings.tls_client_ca_file and not settings.tls_cert_file:
        raise ConfigError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE (mutual TLS runs over TLS)")
    if settings.tls_client_roles and not settings.tls_client_ca_file:
        raise ConfigError("TLS_CLIENT_ROLES needs TLS_CLIENT_CA_FILE (only verified certificates get roles)")
    if settings.storage_backend == "ducklake" and not (settings.lake_catalog and settings.lake_data_path):
        raise ConfigError("STORAGE_BACKEND=ducklake needs LAKE_CATALOG and LAKE_DATA_PATH")

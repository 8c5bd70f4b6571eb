"""What observability needs to know about the database, answered by real queries.

`DatabaseProbe` asks the database a real question (the catalog's row count,
which reads table storage; on a lake also whether its data path answers: the
directory is writable, or the S3 prefix can be listed) on a connection of its own, interrupted after a
short timeout, so a hung or invalidated database reads as "cannot answer"
rather than hanging the caller. `DatabaseFiles` and `table_row_counts`
feed GetSystemMetrics and the Prometheus gauges.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .database import Database, DatabaseError
from .ddl import CATALOG_TABLE
from .lake import redact
from .pool import ConnectionPool
from .sql import first_row, quote_identifier, table_exists


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    seconds: float
    error: str = ""  # safe to show: the error's type and DuckDB's first line, never SQL


class DatabaseProbe:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._query = f"SELECT count(*) FROM {quote_identifier(CATALOG_TABLE)}"

    def check(self, timeout: float) -> ProbeResult:
        started = time.monotonic()
        try:
            con = self._database.cursor()
        except (DatabaseError, duckdb.Error) as error:
            return ProbeResult(False, time.monotonic() - started, _describe(error))
        timer = threading.Timer(timeout, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            first_row(con.execute(self._query))
            data_path = self._database.settings.lake.data_path if self._database.settings.lake else None
            if data_path is not None and not data_path.startswith("s3://"):
                if not (os.path.isdir(data_path) and os.access(data_path, os.W_OK | os.X_OK)):
                    return ProbeResult(False, time.monotonic() - started, f"the lake's data path {data_path} "
                                       "is not a writable directory (is its volume mounted?)")
            elif data_path is not None:  # S3: listing the prefix proves the endpoint and the credentials
                first_row(con.execute("SELECT count(*) FROM glob(?)", [data_path + "*"]))
        except duckdb.Error as error:
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                return ProbeResult(False, elapsed, f"no answer within {timeout:g}s")
            return ProbeResult(False, elapsed, _describe(error))
        finally:
            timer.cancel()
            con.close()
        return ProbeResult(True, time.monotonic() - started)


def _describe(error: Exception) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {redact(first_line)[:200]}"


@dataclass(frozen=True)
class FileSizes:
    path: str
    file_bytes: int
    wal_bytes: int


def database_files(database: Database) -> FileSizes:
    return FileSizes(str(database.path), _size(database.path), _size(database.wal_path()))


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def table_row_counts(pool: ConnectionPool, tables: Sequence[str], timeout: float = 1.0) -> dict[str, int]:
    """Exact row counts of the given tables (missing tables are left out)."""
    counts: dict[str, int] = {}
    with pool.connection(timeout=timeout) as con:
        for table in tables:
            if table_exists(con, table):
                row = first_row(con.execute(f"SELECT count(*) FROM {quote_identifier(table)}"))
                counts[table] = int(row[0]) if row else 0
    return counts

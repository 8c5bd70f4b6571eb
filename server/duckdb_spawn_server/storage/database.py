"""The one DuckDB database instance of the process.

A DuckDB file admits a single process, so the service opens it once and
hands out cursors (connections sharing the instance): one per pool slot for
reads, one for the group-commit writer. Extension auto-install and
auto-load are off: the service never downloads anything at run time.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# DuckDB's binding tries `import pandas` on every parameterised execute (to recognise
# DataFrame parameters). Without pandas installed, each failed attempt walks the whole
# import path: ~0.3 ms per query, measured, a third of a point lookup. Recording the
# absence once makes those attempts fail instantly.
if importlib.util.find_spec("pandas") is None:
    sys.modules.setdefault("pandas", None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DatabaseSettings:
    path: str
    threads: int | None = None  # None: DuckDB's default (the cpu count)
    memory_limit: str | None = None  # e.g. "1GB"; None: DuckDB's default (80% of RAM)


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message is safe to log."""


class Database:
    """Owns the DuckDB instance; `cursor()` gives a new connection to it."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.path = Path(settings.path)
        self._lock = threading.Lock()
        self._closed = False
        if settings.path != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, str | bool | int] = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
        if settings.threads:
            config["threads"] = settings.threads
        if settings.memory_limit:
            config["memory_limit"] = settings.memory_limit
        try:
            self._connection = duckdb.connect(settings.path, config=config)
        except duckdb.Error as error:
            raise DatabaseError(f"cannot open DuckDB database at {settings.path}: {error}") from error
        # What DuckDB actually applied, so an operator can see the container limits took effect.
        # fetchall, not fetchone: an unfinished result keeps its transaction open on this
        # connection, and every CHECKPOINT (automatic ones included) would then fail.
        threads, memory_limit = self._connection.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit')").fetchall()[0]
        log.info("database opened", extra={"path": str(self.path), "duckdb_threads": threads,
                                           "duckdb_memory_limit": memory_limit})

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._closed:
                raise DatabaseError("database is closed")
            return self._connection.cursor()

    @property
    def closed(self) -> bool:
        return self._closed

    def wal_path(self) -> Path:
        return Path(str(self.path) + ".wal")

    def checkpoint_and_close(self) -> None:
        """Folds the WAL into the file, then closes: a clean shutdown leaves one file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._connection.execute("CHECKPOINT")
            except duckdb.Error as error:  # the WAL still holds every commit
                log.warning("checkpoint at shutdown failed: %s", error)
            self._connection.close()
        log.info("database closed", extra={"path": str(self.path)})

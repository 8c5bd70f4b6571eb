"""The one DuckDB database instance of the process.

A DuckDB file admits a single process, so the service opens it once and
hands out cursors (connections sharing the instance): one per pool slot for
reads, one for the group-commit writer. Extension auto-install and
auto-load are off: the service never downloads anything at run time.

It also knows when DuckDB has given up: a fatal error (typically a
checkpoint that met a full disk) invalidates the instance until the process
restarts. `failure()` turns such errors into what a client can act on
(UNAVAILABLE, never INTERNAL) and tells the listeners once, so health can
fail liveness and Kubernetes restarts the pod; the restart replays the WAL,
which holds every acknowledged commit.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..domain.errors import Unavailable
from .disk_guard import low_disk_space
from .lake import LakeSettings, attach, extension_directory, load_extensions, redact, use

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
    memory_limit: str | None = None  # e.g. "1GB"; None: DuckDB's default (80% of RAM; see memory_limit.py)
    # WAL size that triggers an automatic checkpoint; None: DuckDB's default (16 MiB).
    checkpoint_threshold_bytes: int | None = None
    # A DuckLake to attach instead of the file: `path`'s directory then holds only local scratch.
    lake: LakeSettings | None = None


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message is safe to log."""


DATABASE_INVALIDATED = "DATABASE_INVALIDATED"
_NO_SPACE = "No space left on device"


class Database:
    """Owns the DuckDB instance; `cursor()` gives a new connection to it."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.path = Path(settings.path)
        self._lock = threading.Lock()
        self._closed = False
        self.invalidated: str | None = None  # why DuckDB invalidated the instance, once it has
        self._invalidation_listeners: list[Callable[[str], None]] = []
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
        if settings.checkpoint_threshold_bytes and settings.lake is None:
            config["checkpoint_threshold"] = f"{settings.checkpoint_threshold_bytes}B"
        if settings.lake is not None:
            config["extension_directory"] = extension_directory(self.path.absolute().parent)
        try:
            if settings.lake is None:
                self._connection = duckdb.connect(settings.path, config=config)
            else:
                self._connection = duckdb.connect(":memory:", config=config)
                load_extensions(self._connection)
                attach(self._connection, settings.lake)
        except duckdb.Error as error:
            where = settings.path if settings.lake is None else f"the lake at {settings.lake.data_path}"
            # DuckDB's message about a failed ATTACH quotes the catalog's connection string: no password
            # goes on, and the original error is not chained (a traceback would print it).
            raise DatabaseError(f"cannot open DuckDB database at {where}: "
                                f"{redact(str(error).splitlines()[0])[:300]}") from None
        # What DuckDB actually applied, so an operator can see the container limits took effect.
        # fetchall, not fetchone: an unfinished result keeps its transaction open on this
        # connection, and every CHECKPOINT (automatic ones included) would then fail.
        threads, memory_limit = self._connection.execute(
            "SELECT current_setting('threads'), current_setting('memory_limit')").fetchall()[0]
        log.info("database opened", extra={"path": str(self.path), "duckdb_threads": threads,
                                           "duckdb_memory_limit": memory_limit})

    @property
    def in_memory(self) -> bool:
        return self.settings.path == ":memory:"

    @property
    def lake(self) -> bool:
        """A DuckLake: no PRIMARY KEY or UNIQUE (the storage code checks keys itself), no local WAL."""
        return self.settings.lake is not None

    # -- failures -------------------------------------------------------------------
    def on_invalidated(self, listener: Callable[[str], None]) -> None:
        """`listener(reason)` runs once, in the thread that met the fatal error."""
        self._invalidation_listeners.append(listener)

    def failure(self, error: BaseException) -> Unavailable | None:
        """The client-facing error for a failure of the database itself; None for anything else.

        Disk full is retryable once space is freed; an invalidated instance
        is retryable on another replica or after the restart it needs.
        """
        text = str(error)
        if isinstance(error, duckdb.FatalException) or "database has been invalidated" in text:
            self._invalidate(text)
            return database_invalidated()
        if self.invalidated is not None:  # errors that follow the fatal one are the same story
            return database_invalidated()
        if isinstance(error, duckdb.Error) and _NO_SPACE in text:
            return low_disk_space()
        return None

    def check_usable(self) -> None:
        if self.invalidated is not None:
            raise database_invalidated()

    def _invalidate(self, text: str) -> None:
        with self._lock:
            if self.invalidated is not None:
                return
            # DuckDB's first line names the cause (e.g. the checkpoint's write error); no SQL in it.
            self.invalidated = redact(text.splitlines()[0])[:300] if text else "fatal error"
        log.critical("DuckDB invalidated the database; writes are refused and liveness fails until "
                     "a restart", extra={"error": self.invalidated})
        for listener in self._invalidation_listeners:
            try:
                listener(self.invalidated)
            except Exception:  # a listener must not hide the failure from the others
                log.exception("invalidation listener failed")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._closed:
                raise DatabaseError("database is closed")
            cursor = self._connection.cursor()
        if self.settings.lake is not None:
            use(cursor)
        return cursor

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
            # An invalidated instance refuses CHECKPOINT (its WAL holds every commit); a lake has no WAL here.
            if self.invalidated is None and self.settings.lake is None:
                try:
                    self._connection.execute("CHECKPOINT")
                except duckdb.Error as error:  # the WAL still holds every commit
                    log.warning("checkpoint at shutdown failed: %s", str(error).splitlines()[0][:300])
            try:
                self._connection.close()
            except duckdb.Error as error:
                log.warning("closing the database failed: %s", str(error).splitlines()[0][:300])
        log.info("database closed", extra={"path": str(self.path)})


def database_invalidated() -> Unavailable:
    return Unavailable("the database failed and must be restarted; this replica refuses writes until then "
                       "(every acknowledged write is kept)", retry_after_seconds=5.0,
                       reason=DATABASE_INVALIDATED)

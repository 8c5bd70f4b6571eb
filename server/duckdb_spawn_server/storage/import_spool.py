"""The staging area of one import: validated rows spooled to disk, inserted in one transaction.

Rows go to an Arrow IPC file beside the database (never into DuckDB, so a
slow client holds no transaction and no writer time while it sends). At
commit, one writer op reads the file back, hands it to DuckDB as an Arrow
stream and runs a single `INSERT ... SELECT` that also generates the ids,
etags and timestamps; the request-log entry commits in the same
transaction. The file is deleted when the import ends, whatever happens.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..domain.changes import ChangeType
from ..domain.ports import ImportStamp
from ..domain.request_ids import LogEntry, RequestReplayed
from ..domain.schema import ColumnRole, TableSchema
from .change_log import ChangeLog
from .ddl import CREATE_TIME, ETAG, SCHEMA_VERSION, UPDATE_TIME
from .disk_guard import DiskSpaceGuard, low_disk_space
from .idempotency_log import DuckDBIdempotencyLog, Replayed
from .record_cache import RecordCache
from .sql import quote_identifier
from .writer import Execute, GroupCommitWriter

# 16 hex digits like every etag; hashing random() costs a tenth of formatting a random UUID
# (which took a third of a 200k-row import's insert).
_NEW_ETAG = "printf('%016x', hash(random()))"
_MARKED_ETAG = "? || printf('%08x', hash(random()) % 4294967296)"
_PREFIX = "duckdb-spawn-import-"


def remove_orphaned_spools(directory: str | None) -> int:
    """Deletes spool files in `directory` (left by a process that died mid-import); returns how many."""
    if directory is None:
        return 0
    removed = 0
    for path in Path(directory).glob(f"{_PREFIX}*.arrows"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def _full_disk_is_unavailable() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise low_disk_space() from None
        raise


class ImportSpool:
    def __init__(self, schema: TableSchema, writer: GroupCommitWriter, requests: DuckDBIdempotencyLog,
                 directory: str | None = None, guard: DiskSpaceGuard | None = None,
                 cache: RecordCache | None = None, changes: ChangeLog | None = None) -> None:
        self._schema = schema
        self._changes = changes
        self._guard = guard
        self._cache = cache
        self._writer = writer
        self._requests = requests
        handle, self._path = tempfile.mkstemp(prefix=_PREFIX, suffix=".arrows", dir=directory)
        self._file = os.fdopen(handle, "wb")
        self._stream: pa.ipc.RecordBatchStreamWriter | None = None
        self._rows = 0

    @property
    def rows(self) -> int:
        return self._rows

    def append(self, table: pa.Table) -> None:
        if self._guard is not None:  # the spool shares the database's volume
            self._guard.check(table.nbytes)
        with _full_disk_is_unavailable():
            if self._stream is None:
                self._stream = pa.ipc.new_stream(self._file, table.schema)
            self._stream.write_table(table)
        self._rows += table.num_rows

    def commit(self, stamp: ImportStamp, log: LogEntry | None, timeout: float | None) -> int:
        with _full_disk_is_unavailable():
            self._finish_file()
        rows = self._rows

        def write(con: duckdb.DuckDBPyConnection) -> int:
            if rows:
                self._insert(con, stamp)
            return rows

        # The rows land in the database once more than the spool holds them: ask the guard for that room.
        op = Execute(self._requests.guarded(log, write), estimated_bytes=self._spooled_bytes())
        if self._cache is not None:
            cache, table = self._cache, self._schema.table_name
            op.after_commit = lambda _: cache.changed(table)
        result = self._writer.run(op, timeout)
        if isinstance(result, Replayed):
            raise RequestReplayed(result.logged)
        return int(result)

    def _spooled_bytes(self) -> int:
        try:
            return os.path.getsize(self._path)
        except OSError:
            return 0

    def close(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):
            self._finish_file()
        with contextlib.suppress(OSError):
            os.unlink(self._path)

    def _finish_file(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if not self._file.closed:
            self._file.close()

    def _insert(self, con: duckdb.DuckDBPyConnection, stamp: ImportStamp) -> None:
        # Opened on every attempt: the writer may apply an op again after a group rollback.
        view = f"_import_{secrets.token_hex(8)}"
        sql, params = self._insert_sql(quote_identifier(view), stamp)
        # Read, not memory-mapped: mapped pages count in the process's RSS, and the spool can be
        # far larger than memory; read batch by batch, the import holds one batch at a time.
        with pa.OSFile(self._path) as source:
            # The bare C stream, not the pyarrow reader: DuckDB scans a Python object holding the
            # GIL for the whole insert, which stalls the event loop (and health checks) meanwhile.
            con.from_arrow(pa.ipc.open_stream(source).__arrow_c_stream__()).create_view(view)
            try:
                if self._changes is None:
                    con.execute(sql, params)
                else:
                    self._insert_logged(con, quote_identifier(view), stamp, self._changes)
            finally:
                con.execute(f"DROP VIEW IF EXISTS {quote_identifier(view)}")

    def _insert_logged(self, con: duckdb.DuckDBPyConnection, view: str, stamp: ImportStamp,
                       changes: ChangeLog) -> None:
        """Inserts, then logs the rows inserted: they are the ones with the import's time and etag prefix.

        (Not a staging table: catalog changes in the writer's transactions deadlock DuckDB against readers.)
        """
        marker = secrets.token_hex(4)
        names, values, params = self._insert_columns(stamp, marker)
        table = quote_identifier(self._schema.table_name)
        column_list = ", ".join(quote_identifier(n) for n in names)
        con.execute(f"INSERT INTO {table} ({column_list}) SELECT {', '.join(values)} FROM {view}", params)
        changes.log(con, self._schema.table_name, ChangeType.CREATED, self._schema.id_column.name,
                    f"{table} WHERE {quote_identifier(CREATE_TIME)} = ? AND starts_with({quote_identifier(ETAG)}, ?)",
                    [stamp.now, marker])

    def _insert_sql(self, source: str, stamp: ImportStamp) -> tuple[str, list[Any]]:
        names, values, params = self._insert_columns(stamp)
        table = quote_identifier(self._schema.table_name)
        column_list = ", ".join(quote_identifier(n) for n in names)
        return f"INSERT INTO {table} ({column_list}) SELECT {', '.join(values)} FROM {source}", params

    def _insert_columns(self, stamp: ImportStamp,
                        marker: str | None = None) -> tuple[list[str], list[str], list[Any]]:
        """The columns an import fills, the SQL of each one's value (from the spooled rows), its parameters.

        `marker`: eight hex digits every etag of the import starts with (then eight random ones).
        """
        names: list[str] = []
        values: list[str] = []
        params: list[Any] = []
        for column in self._schema.columns:
            names.append(column.name)
            if column.role is ColumnRole.ID:
                values.append("gen_random_uuid()")
            elif column.role in (ColumnRole.CREATE_TIME, ColumnRole.UPDATE_TIME):
                values.append("?")
                params.append(stamp.now.date() if column.type.name == "DATE" else stamp.now)
            else:
                values.append(quote_identifier(column.name))
        names += [CREATE_TIME, UPDATE_TIME, SCHEMA_VERSION, ETAG]
        values += ["?", "?", "?", _NEW_ETAG if marker is None else _MARKED_ETAG]
        params += [stamp.now, stamp.now, stamp.schema_version]
        if marker is not None:
            params.append(marker)
        return names, values, params

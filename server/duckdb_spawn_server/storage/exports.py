"""ExportProjects: the matching rows as one file, streamed in chunks, each format by its fastest writer.

- Parquet: DuckDB's own writer (COPY, parallel, its row groups of 122,880
  rows) into a named pipe that this module reads as DuckDB writes it. No
  file lands on disk; DuckDB holds a row group at a time. (Tables with a
  HUGEINT column use pyarrow's writer instead, with row groups of the same size.)
- JSON lines: DuckDB renders each row as one JSON text (`json_object`, with
  casts that keep the service's JSON form: decimals and big integers as
  exact strings, dates ISO-8601, times RFC 3339 with a `Z`); the lines
  arrive as an Arrow string column whose bytes are sent as they are.
- Arrow IPC and CSV: DuckDB's Arrow record batches through pyarrow's writers
  (faster than DuckDB's CSV writer) into a sink emptied after every batch.

Memory holds a batch (or a row group, in DuckDB) whatever the export's size.
Without an `order_by` the rows come in storage order and DuckDB does not
sort: the first chunk leaves at once. Columns are the schema's, in schema
order; UUIDs are text, decimals exact in every format.

An export holds one pooled read connection (and its snapshot) for as long as
the client takes to read it.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..domain.queries import ExportFormat, ProjectQuery
from ..domain.schema import Column, TableSchema
from ..domain.types import TypeKind
from .pool import ConnectionPool
from .query_sql import order_sql, where_sql
from .sql import quote_identifier, string_literal

EXPORT_BATCH_ROWS = 8192
PARQUET_ROW_GROUP_ROWS = 122_880  # DuckDB's default
MAX_CHUNK_BYTES = 1 << 20
_PIPE_PREFIX = "duckdb-spawn-export-"


def export_chunks(pool: ConnectionPool, schema: TableSchema, query: ProjectQuery, export_format: ExportFormat,
                  source: str, *, ordered: bool, pipe_dir: str | None = None,
                  snapshot: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
                  ) -> Iterator[tuple[bytes | memoryview, int]]:
    """(bytes, rows the chunk completes); `source`: the table, or TableLayouts.source's stand-in.

    The rows are read in one transaction, in which `snapshot` learns its position first.
    """
    sql, params = export_sql(schema, query, source, export_format, ordered=ordered)
    with pool.connection() as con:
        con.execute("SET streaming_buffer_size = '16MB'")
        con.begin()
        try:
            if snapshot is not None:
                snapshot(con)
            if export_format is ExportFormat.PARQUET and not _has_hugeint(schema):
                yield from _copied(con, sql, params, "FORMAT PARQUET", pipe_dir)
                return
            reader = con.execute(sql, params).to_arrow_reader(EXPORT_BATCH_ROWS)
            if export_format is ExportFormat.JSONL:
                yield from _json_lines(reader)
            else:
                yield from _written(reader, export_format)
        finally:
            with contextlib.suppress(duckdb.Error):
                con.rollback()


def export_sql(schema: TableSchema, query: ProjectQuery, source: str, export_format: ExportFormat, *,
               ordered: bool) -> tuple[str, list[Any]]:
    if export_format is ExportFormat.JSONL:
        pairs = ", ".join(f"{string_literal(c.name)}, {_json_value(c)}" for c in schema.columns)
        select = f"json_object({pairs}) || chr(10) AS line"
    else:
        select = ", ".join(_export_column(c) for c in schema.columns)
    where = where_sql(query.filter)
    order = f" ORDER BY {order_sql(query.ordering)}" if ordered else ""
    return f"SELECT {select} FROM {source} WHERE {where.sql}{order}", where.params


def _export_column(column: Column) -> str:
    name = quote_identifier(column.name)
    if column.type.kind is TypeKind.UUID:
        return f"CAST({name} AS VARCHAR) AS {name}"
    return name


def _has_hugeint(schema: TableSchema) -> bool:
    """DuckDB's Parquet writer stores HUGEINT as DOUBLE (inexact), and DECIMAL(38,0) cannot hold its
    39-digit values; such tables go through pyarrow's writer, which keeps Arrow's decimal128 as it is."""
    return any(c.type.name == "HUGEINT" for c in schema.columns)


def _json_value(column: Column) -> str:
    """The column as the JSON value the service has always written for it."""
    name = quote_identifier(column.name)
    kind = column.type.kind
    if kind in (TypeKind.DECIMAL, TypeKind.DATE, TypeKind.UUID) or column.type.name == "HUGEINT":
        return f"CAST({name} AS VARCHAR)"
    if column.type.name == "REAL":
        return f"CAST({name} AS DOUBLE)"  # the float32 value's exact digits, as Python's float printed them
    if kind is TypeKind.TIMESTAMP:
        return (f"CASE WHEN microsecond({name}) % 1000000 = 0 THEN strftime({name}, '%Y-%m-%dT%H:%M:%SZ') "
                f"ELSE strftime({name}, '%Y-%m-%dT%H:%M:%S.%fZ') END")
    return name


def _json_lines(reader: pa.RecordBatchReader) -> Iterator[tuple[bytes | memoryview, int]]:
    for batch in reader:
        if batch.num_rows:
            yield from _pieces(_string_bytes(batch.column(0)), batch.num_rows)


def _string_bytes(column: pa.Array) -> memoryview:
    """The concatenated values of a string column, straight from its data buffer."""
    if pa.types.is_string_view(column.type) or column.null_count:
        column = pa.array(column.to_pylist(), pa.string())  # not expected from DuckDB; correct anyway
    _, offsets, data = column.buffers()
    positions = memoryview(offsets).cast("i")
    return memoryview(data)[positions[column.offset]:positions[column.offset + len(column)]]


def _pieces(data: bytes | memoryview, rows: int) -> Iterator[tuple[bytes | memoryview, int]]:
    """`data` in pieces of at most MAX_CHUNK_BYTES; `rows` goes with the last piece.

    The pieces are views, not copies: the wire message (api/wire.py) is the one copy made."""
    if not len(data):
        if rows:
            yield b"", rows
        return
    view = memoryview(data)
    for start in range(0, len(view), MAX_CHUNK_BYTES):
        end = start + MAX_CHUNK_BYTES
        yield view[start:end], rows if end >= len(view) else 0


class ChunkSink(io.RawIOBase):
    """A write-only file whose bytes are taken out in chunks as they accumulate."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self, rows: int) -> Iterator[tuple[bytes | memoryview, int]]:
        data, self._parts = b"".join(self._parts), []
        yield from _pieces(data, rows)


class _ParquetWriter:
    """pyarrow's Parquet writer with row groups of DuckDB's size (one per batch would make 8,192-row groups)."""

    def __init__(self, sink: ChunkSink, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(sink, schema, compression="snappy")
        self._batches: list[pa.RecordBatch] = []
        self._rows = 0

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._batches.append(batch)
        self._rows += batch.num_rows
        if self._rows >= PARQUET_ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._batches:
            self._writer.write_table(pa.Table.from_batches(self._batches), row_group_size=PARQUET_ROW_GROUP_ROWS)
            self._batches, self._rows = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()


def _written(reader: pa.RecordBatchReader, export_format: ExportFormat) -> Iterator[tuple[bytes | memoryview, int]]:
    """Arrow IPC and CSV, each batch encoded in one native call (no Python file object in between,
    which pyarrow would call, holding the GIL, for every buffer); Parquet with HUGEINT through a sink."""
    if export_format is ExportFormat.PARQUET:
        yield from _parquet_by_pyarrow(reader)
        return
    if export_format is ExportFormat.ARROW_IPC:
        # The IPC stream format is the schema message, the batch messages, then the end-of-stream mark.
        head, tail = reader.schema.serialize(), _IPC_END_OF_STREAM
        encode = _ipc_message
    else:
        head, tail = _csv(reader.schema.empty_table(), header=True), b""
        encode = _csv
    first = True
    for batch in reader:
        if batch.num_rows:
            body: bytes | memoryview = memoryview(encode(batch))
            if first:  # the head travels with the first rows
                body, first = b"".join((head, body)), False
            yield from _pieces(body, batch.num_rows)
    yield from _pieces(b"".join((head, tail)) if first else tail, 0)


_IPC_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


def _ipc_message(batch: pa.RecordBatch) -> pa.Buffer:
    return batch.serialize()


def _csv(data: pa.RecordBatch | pa.Table, *, header: bool = False) -> pa.Buffer:
    out = pa.BufferOutputStream()
    pa_csv.write_csv(data, out, pa_csv.WriteOptions(include_header=header))
    return out.getvalue()


def _parquet_by_pyarrow(reader: pa.RecordBatchReader) -> Iterator[tuple[bytes | memoryview, int]]:
    sink = ChunkSink()
    writer = _ParquetWriter(sink, reader.schema)
    for batch in reader:
        if batch.num_rows:
            writer.write_batch(batch)
            yield from sink.drain(batch.num_rows)
    writer.close()
    yield from sink.drain(0)


def _copied(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], options: str,
            pipe_dir: str | None) -> Iterator[tuple[bytes | memoryview, int]]:
    """DuckDB's COPY writer, read from a named pipe while it writes; the row count comes with the last chunk.

    A second thread runs the COPY (DuckDB blocks while the pipe is full). We
    hold the pipe's write end open until that COPY has ended, so the reader
    sees end-of-file only then, however early the COPY fails.
    """
    with _named_pipe(pipe_dir) as path:
        read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a reader first: DuckDB's open never blocks
        hold_fd = os.open(path, os.O_WRONLY)
        os.set_blocking(read_fd, True)
        with contextlib.suppress(OSError):  # fewer, larger reads; the default pipe holds 64 KiB
            fcntl.fcntl(read_fd, fcntl.F_SETPIPE_SZ, MAX_CHUNK_BYTES)
        outcome: list[Any] = []

        def copy() -> None:
            try:
                rows = con.execute(f"COPY ({sql}) TO {string_literal(path)} ({options})", params).fetchall()
                outcome.append(int(rows[0][0]) if rows else 0)
            except BaseException as error:  # noqa: BLE001 - handed to the reading thread
                outcome.append(error)
            finally:
                os.close(hold_fd)

        thread = threading.Thread(target=copy, name="export-copy", daemon=True)
        thread.start()
        with open(read_fd, "rb", buffering=0) as pipe:
            try:
                while chunk := _read_up_to(pipe, MAX_CHUNK_BYTES):
                    yield chunk, 0
            finally:
                if thread.is_alive():  # the client went away: stop DuckDB, let it reach the end
                    with contextlib.suppress(duckdb.Error):
                        con.interrupt()
                    while pipe.read(MAX_CHUNK_BYTES):
                        pass
                thread.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    yield b"", result


def _read_up_to(pipe: io.RawIOBase, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left:
        part = pipe.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def remove_orphaned_pipes(directory: str | None) -> None:
    """Removes the pipes (and their folders) of exports a process that died was running."""
    if directory is None:
        return
    for folder in Path(directory).glob(f"{_PIPE_PREFIX}*"):
        with contextlib.suppress(OSError):
            (folder / "rows").unlink(missing_ok=True)
            folder.rmdir()


@contextlib.contextmanager
def _named_pipe(directory: str | None) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix=_PIPE_PREFIX, dir=directory)  # private (0700): nobody else reads the rows
    path = os.path.join(folder, "rows")
    os.mkfifo(path, 0o600)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)

"""ExportProjects: DuckDB record batches through pyarrow writers, as a stream of byte chunks.

DuckDB streams the query result as Arrow record batches; each batch goes
through the format's writer into a small in-memory sink that is emptied
after every batch, so memory holds one batch and one chunk whatever the
export's size. Concatenating the chunks gives one valid file. The columns
are the schema's, in schema order; UUIDs are text, decimals stay Arrow
decimals (exact in IPC and Parquet, exact text in CSV and JSON lines).

An export holds one pooled read connection (and its snapshot) for as long
as the client takes to read it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..domain.queries import ExportFormat, ProjectQuery
from ..domain.schema import Column, TableSchema
from ..domain.types import TypeKind
from ..domain.values import to_json_value
from .pool import ConnectionPool
from .query_sql import order_sql, where_sql
from .sql import quote_identifier

EXPORT_BATCH_ROWS = 8192
MAX_CHUNK_BYTES = 1 << 20


class ChunkSink(io.RawIOBase):
    """A write-only file whose bytes are taken out in chunks as they accumulate."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._size = 0
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._size += len(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def drain(self, rows: int) -> Iterator[tuple[bytes, int]]:
        """The buffered bytes in pieces of at most MAX_CHUNK_BYTES; `rows` goes with the last piece."""
        if not self._size:
            if rows:
                yield b"", rows
            return
        data = b"".join(self._parts)
        self._parts, self._size = [], 0
        for start in range(0, len(data), MAX_CHUNK_BYTES):
            end = start + MAX_CHUNK_BYTES
            yield data[start:end], rows if end >= len(data) else 0


class BatchWriter(Protocol):
    def write_batch(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class JsonLinesWriter:
    """One JSON object per row; decimals as exact strings, times as RFC 3339 / ISO dates."""

    def __init__(self, sink: ChunkSink) -> None:
        self._sink = sink

    def write_batch(self, batch: pa.RecordBatch) -> None:
        lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=to_json_value)
                 for row in batch.to_pylist()]
        if lines:
            self._sink.write(("\n".join(lines) + "\n").encode())

    def close(self) -> None:
        pass


class _ParquetWriter:
    def __init__(self, sink: ChunkSink, schema: pa.Schema) -> None:
        self._writer = pq.ParquetWriter(sink, schema, compression="zstd")

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


def open_writer(export_format: ExportFormat, sink: ChunkSink, schema: pa.Schema) -> BatchWriter:
    if export_format is ExportFormat.ARROW_IPC:
        return pa.ipc.new_stream(sink, schema)
    if export_format is ExportFormat.PARQUET:
        return _ParquetWriter(sink, schema)
    if export_format is ExportFormat.CSV:
        return pa_csv.CSVWriter(sink, schema)
    return JsonLinesWriter(sink)


def _export_column(column: Column) -> str:
    name = quote_identifier(column.name)
    if column.type.kind is TypeKind.UUID:
        return f"CAST({name} AS VARCHAR) AS {name}"
    return name


def export_sql(schema: TableSchema, query: ProjectQuery, source: str) -> tuple[str, list[Any]]:
    """`source`: the table, or TableLayouts.source's stand-in while it lacks some schema columns."""
    where = where_sql(query.filter)
    select = ", ".join(_export_column(c) for c in schema.columns)
    sql = f"SELECT {select} FROM {source} WHERE {where.sql} ORDER BY {order_sql(query.ordering)}"
    return sql, where.params


def export_chunks(pool: ConnectionPool, schema: TableSchema, query: ProjectQuery,
                  export_format: ExportFormat, source: str) -> Iterator[tuple[bytes, int]]:
    sql, params = export_sql(schema, query, source)
    with pool.connection() as con:
        reader = con.execute(sql, params).to_arrow_reader(EXPORT_BATCH_ROWS)
        sink = ChunkSink()
        writer = open_writer(export_format, sink, reader.schema)
        for batch in reader:
            if batch.num_rows:
                writer.write_batch(batch)
                yield from sink.drain(batch.num_rows)
        writer.close()
        yield from sink.drain(0)

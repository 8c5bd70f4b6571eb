"""Bulk sources for ImportProjects and the file side of ExportProjects.

Every source is streamed: a file is read a batch at a time and each batch
becomes one `ImportProjectsRequest`, so memory holds one batch whatever the
file's size. CSV, Parquet, Arrow IPC and pyarrow tables travel as Arrow IPC
(columnar, validated by the server with vectorised kernels); JSON lines
travel as Structs, with numbers parsed as exact decimals.

A source can be opened again from the start, which is what lets the client
retry an import that failed with UNAVAILABLE (the import's request id makes
the retry safe: the server never applies the same import twice).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from duckdb_spawn.v1 import project_service_pb2 as pb

from .values import encode_attributes

DEFAULT_BATCH_ROWS = 5000  # well under the server's MAX_IMPORT_ROWS_PER_MESSAGE (10,000)

FORMATS = ("csv", "parquet", "jsonl", "arrow")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".json": "jsonl", ".arrow": "arrow", ".arrows": "arrow", ".ipc": "arrow"}
EXPORT_FORMATS = {"arrow": pb.EXPORT_FORMAT_ARROW_IPC, "parquet": pb.EXPORT_FORMAT_PARQUET,
                  "csv": pb.EXPORT_FORMAT_CSV, "jsonl": pb.EXPORT_FORMAT_JSONL}


def detect_format(path: str | os.PathLike[str], given: str | None = None) -> str:
    """The file format: `given`, else from the file's suffix."""
    if given:
        if given not in FORMATS:
            raise ValueError(f"unknown format {given!r}; use one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(f"cannot tell the format of {os.fspath(path)!r} from its suffix; "
                         f"say which with format= ({', '.join(FORMATS)})")
    return _SUFFIXES[suffix]


def progress_unit(file_format: str) -> str:
    """What an import of this format counts its progress in (Parquet knows its rows up front)."""
    return "rows" if file_format == "parquet" else "bytes"


@dataclass(frozen=True)
class Chunk:
    """One import message's rows, and how far into the source they reach."""

    message: pb.ImportProjectsRequest
    rows: int
    position: int  # bytes of the file read so far, or rows so far for sources without bytes


@dataclass(frozen=True)
class ImportSource:
    open: Callable[[], Iterator[Chunk]]
    total: int | None  # in `unit`s, when known up front
    unit: str  # "bytes" or "rows"
    repeatable: bool  # can `open` be called again (for a retry)?


@dataclass(frozen=True)
class Progress:
    rows: int  # rows sent (import) or received (export) so far
    completed: int  # in `unit`s
    total: int | None
    unit: str


ProgressCallback = Callable[[Progress], None]


def ipc_bytes(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _arrow_chunks(batches: Iterable[pa.RecordBatch], batch_rows: int,
                  position: Callable[[int], int]) -> Iterator[Chunk]:
    sent = 0
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            piece = batch.slice(start, batch_rows)
            sent += piece.num_rows
            yield Chunk(pb.ImportProjectsRequest(arrow_ipc=ipc_bytes(piece)), piece.num_rows, position(sent))


def table_source(data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch],
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> ImportSource:
    """A pyarrow Table (repeatable), or a reader / iterable of batches (read once)."""
    if isinstance(data, pa.Table):
        table = data
        return ImportSource(lambda: _arrow_chunks(table.to_batches(max_chunksize=batch_rows), batch_rows,
                                                  lambda rows: rows),
                            table.num_rows, "rows", repeatable=True)
    batches = iter(data)
    return ImportSource(lambda: _arrow_chunks(batches, batch_rows, lambda rows: rows), None, "rows",
                        repeatable=False)


def rows_source(rows: Iterable[Mapping[str, Any]], batch_rows: int = DEFAULT_BATCH_ROWS) -> ImportSource:
    """Attribute dicts (Decimal, date, datetime ... as for create_project); read once unless a list."""
    def chunks(items: Iterable[Mapping[str, Any]]) -> Iterator[Chunk]:
        sent, batch = 0, []
        for row in items:
            batch.append(encode_attributes(row))
            if len(batch) >= batch_rows:
                sent += len(batch)
                yield _struct_chunk(batch, sent)
                batch = []
        if batch:
            sent += len(batch)
            yield _struct_chunk(batch, sent)

    if isinstance(rows, (list, tuple)):
        fixed = rows
        return ImportSource(lambda: chunks(fixed), len(fixed), "rows", repeatable=True)
    once = iter(rows)
    return ImportSource(lambda: chunks(once), None, "rows", repeatable=False)


def _struct_chunk(rows: list[dict[str, Any]], position: int) -> Chunk:
    message = pb.ImportProjectsRequest()
    for row in rows:
        message.struct_rows.rows.add().update(row)
    return Chunk(message, len(rows), position)


def file_source(path: str | os.PathLike[str], file_format: str | None = None,
                column_types: Mapping[str, pa.DataType] | None = None,
                batch_rows: int = DEFAULT_BATCH_ROWS) -> ImportSource:
    """A CSV, Parquet, JSON-lines or Arrow IPC file, read a batch at a time (repeatable).

    `column_types` (the server's Arrow schema) says which CSV columns hold
    integers, floats or booleans; every other CSV column travels as text,
    which the server parses exactly (decimals, dates, timestamps, UUIDs).
    """
    path = Path(path)
    kind = detect_format(path, file_format)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    size = path.stat().st_size
    if kind == "parquet":
        total_rows = pq.ParquetFile(path).metadata.num_rows

        def parquet_chunks() -> Iterator[Chunk]:
            with pq.ParquetFile(path) as parquet:
                yield from _arrow_chunks(parquet.iter_batches(batch_size=batch_rows), batch_rows, lambda rows: rows)

        return ImportSource(parquet_chunks, total_rows, "rows", repeatable=True)
    if kind == "csv":
        return ImportSource(lambda: _csv_chunks(path, column_types or {}, batch_rows), size, "bytes", True)
    if kind == "arrow":
        return ImportSource(lambda: _ipc_chunks(path, batch_rows), size, "bytes", True)
    return ImportSource(lambda: _jsonl_chunks(path, batch_rows), size, "bytes", True)


def _csv_chunks(path: Path, column_types: Mapping[str, pa.DataType], batch_rows: int) -> Iterator[Chunk]:
    with path.open(newline="", encoding="utf-8") as text:
        header = next(csv.reader(text), [])
    with path.open("rb") as handle:
        types = {name: (column_types[name] if _native_in_csv(column_types.get(name)) else pa.string())
                 for name in header if name in column_types}
        types.update({name: pa.string() for name in header if name not in column_types})
        # No read-ahead thread, and the reader closed whatever happens: a conversion error otherwise
        # left Arrow's read-ahead thread running, and the CLI died of SIGABRT on its way out.
        reader = pa_csv.open_csv(
            handle, read_options=pa_csv.ReadOptions(block_size=1 << 20, use_threads=False),
            convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                  null_values=[""], quoted_strings_can_be_null=False))
        try:
            yield from _arrow_chunks(reader, batch_rows, lambda _rows: handle.tell())
        finally:
            reader.close()


def _native_in_csv(arrow_type: pa.DataType | None) -> bool:
    return arrow_type is not None and (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
                                       or pa.types.is_boolean(arrow_type))


def _ipc_chunks(path: Path, batch_rows: int) -> Iterator[Chunk]:
    with pa.memory_map(str(path)) as source, pa.ipc.open_stream(source) as reader:
        yield from _arrow_chunks(reader, batch_rows, lambda _rows: source.tell())


def _jsonl_chunks(path: Path, batch_rows: int) -> Iterator[Chunk]:
    with path.open("rb") as handle:
        yield from _line_chunks(handle, batch_rows)


def _line_chunks(handle: IO[bytes], batch_rows: int) -> Iterator[Chunk]:
    batch: list[dict[str, Any]] = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_float=Decimal)
        except ValueError as error:
            raise ValueError(f"line {number} is not valid JSON: {error}") from None
        if not isinstance(row, dict):
            raise ValueError(f"line {number} is not a JSON object")
        batch.append(encode_attributes(row))
        if len(batch) >= batch_rows:
            yield _struct_chunk(batch, handle.tell())
            batch = []
    if batch:
        yield _struct_chunk(batch, handle.tell())


def write_chunks(path: str | os.PathLike[str], chunks: Iterable[tuple[bytes, int]],
                 progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Writes exported chunks to `path` atomically (a partial export never looks complete).

    Returns (rows, bytes). `progress(rows, bytes)` is called after each chunk.
    """
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    rows = size = 0
    try:
        with partial.open("wb") as handle:
            for data, row_count in chunks:
                handle.write(data)
                rows += row_count
                size += len(data)
                if progress is not None:
                    progress(rows, size)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return rows, size

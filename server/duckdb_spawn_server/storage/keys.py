"""Unique keys where the engine keeps none: DuckLake has no PRIMARY KEY or UNIQUE.

Before an insert into a lake table, the writer looks for the new rows' ids
among the table's and among themselves, in the insert's own transaction, and
raises what DuckDB raises for a duplicate primary key; the callers' error
translation (ALREADY_EXISTS naming the project) is then the same in both
engines. Within one process the single writer serialises inserts, so the check
and the insert cannot interleave with another of this replica's.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .sql import first_row, quote_identifier


def refuse_duplicate_keys(con: duckdb.DuckDBPyConnection, table_sql: str, column: str, rows: pa.Table) -> None:
    ids = rows.column(column)
    if pc.count_distinct(ids).as_py() < len(ids):
        counts = pc.value_counts(ids)
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"].as_py()
        raise _duplicate(column, repeated)
    quoted = quote_identifier(column)
    found = first_row(con.execute(
        f"SELECT CAST({quoted} AS VARCHAR) FROM {table_sql} WHERE {quoted} IN "
        f"(SELECT CAST(unnest(?) AS UUID)) LIMIT 1", [[str(value) for value in ids.to_pylist()]]))
    if found is not None:
        raise _duplicate(column, found[0])


def _duplicate(column: str, value: object) -> duckdb.ConstraintException:
    # DuckDB's own words for a primary key violation (storage/project_store.py reads the id from them).
    return duckdb.ConstraintException(f'Duplicate key "{column}: {value}" violates primary key constraint.')

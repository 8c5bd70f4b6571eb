"""Vectorised Arrow validation gives exactly the verdicts of the row-by-row validator."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from duckdb_spawn_server.domain.columnar import ColumnarValidator
from duckdb_spawn_server.domain.errors import InvalidArgument
from duckdb_spawn_server.domain.validation import AttributeValidator
from duckdb_spawn_server.ontology.seed_format import parse_seed_schema

DOCUMENT = {"name": "checked", "columns": [
    {"name": "id", "type": "UUID"},
    {"name": "name", "type": "VARCHAR(12)", "required": True, "pattern": "^[A-Z][a-z ]*$"},
    {"name": "note", "type": "TEXT", "max_length": 6},
    {"name": "amount", "type": "DECIMAL(8,2)", "minimum": "-100", "maximum": "100000"},
    {"name": "count", "type": "SMALLINT", "minimum": 0, "default": 7},
    {"name": "ratio", "type": "DOUBLE", "minimum": "0.1", "maximum": 2.5},
    {"name": "flag", "type": "BOOLEAN"},
    {"name": "day", "type": "DATE"},
    {"name": "moment", "type": "TIMESTAMP"},
    {"name": "kind", "type": "VARCHAR", "enum": ["A", "B"], "default": "A"},
    {"name": "ref", "type": "UUID"},
]}
SCHEMA = parse_seed_schema("checked", DOCUMENT)
VALIDATOR = AttributeValidator(SCHEMA)
COLUMNAR = ColumnarValidator(SCHEMA, VALIDATOR)

# Candidate values per column, valid and invalid, in several Arrow representations.
TEXT = {
    "name": ["Solar", "Wind park", "solar", "Too long name here", "", "S\x00", None, "Ab"],
    "note": ["short", "longer text", "", None, "exact6"],
    "amount": ["1.5", "12.25", "1.234", "1.230", " 3.10", "+4.5", "-0.00", "00012.50", "1e3", "abc", "", "-100",
               "-100.01", "100000", "100000.01", "999999.99", "1000000", ".5", "5.", None],
    "count": ["3", "-1", "70000", "x", None],
    "day": ["2024-02-29", "2023-02-29", "2024-2-3", "2024-13-01", "20240101", "", None],
    "moment": ["2024-01-02T03:04:05Z", "2024-01-02 03:04:05", "2024-01-02T03:04:05+02:00", "yesterday", None],
    "kind": ["A", "B", "C", "a", None],
    "ref": ["3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b", "3F2B8C1E-4D5A-4E6F-8A7B-9C0D1E2F3A4B", "nope", None],
}
TYPED: dict[str, tuple[pa.DataType, list[Any]]] = {
    "amount": (pa.decimal128(12, 3), [Decimal("1.500"), Decimal("1.234"), Decimal("-100.000"), Decimal("100000.001"),
                                      Decimal("99999.990"), None]),
    "count": (pa.int64(), [0, 5, -1, 32767, 32768, 40000, None]),
    "ratio": (pa.float64(), [0.1, 0.5, 2.5, 2.5000001, 0.09999999, float("nan"), float("inf"), None]),
    "flag": (pa.bool_(), [True, False, None]),
    "day": (pa.date32(), [date(2024, 1, 2), None]),
    "moment": (pa.timestamp("ms"), [datetime(2024, 1, 2, 3, 4, 5, 678000), None]),
}
MIXED: dict[str, tuple[pa.DataType, list[Any]]] = {
    "amount": (pa.float64(), [1.5, 0.1, 1.005, 100000.0, 1e9, None]),
    "count": (pa.float64(), [3.0, 3.5, -2.0, None]),
    "ratio": (pa.int32(), [0, 1, 2, 3, None]),
    "flag": (pa.string(), ["true", None]),
    "name": (pa.large_string(), ["Solar", "Wind", "x", None]),
    "note": (pa.int64(), [5, None, None, None]),
}


def random_table(rng: random.Random, rows: int, representation: dict[str, Any]) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for name, values in TEXT.items():
        if name in representation:
            arrow_type, candidates = representation[name]
            columns[name] = pa.array([rng.choice(candidates) for _ in range(rows)], arrow_type)
        else:
            columns[name] = pa.array([rng.choice(values) for _ in range(rows)], pa.string())
    for name, (arrow_type, candidates) in representation.items():
        if name not in columns:
            columns[name] = pa.array([rng.choice(candidates) for _ in range(rows)], arrow_type)
    if rng.random() < 0.5:
        columns.pop("count")  # absent column: its default applies
    return pa.table(columns)


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("representation", [{}, TYPED, MIXED], ids=["text", "typed", "mixed"])
@pytest.mark.parametrize("seed", range(4))
def test_vectorised_verdicts_equal_row_by_row_verdicts(representation: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    table = random_table(rng, 400, representation)
    result = COLUMNAR.validate_arrow(ipc(table), first_row=1, message_number=1)

    expected_rows, expected_errors = [], {}
    for number, row in enumerate(table.to_pylist(), start=1):
        try:
            expected_rows.append(VALIDATOR.validate_create(row, prefix=""))
        except InvalidArgument as error:
            expected_errors[number] = [(v.field, v.reason, v.description) for v in error.violations]
    got_errors = {e.row_number: [(v.field, v.reason, v.description) for v in e.violations] for e in result.errors}
    assert got_errors == expected_errors
    assert 0 < len(expected_errors) < table.num_rows
    assert result.valid.to_pylist() == COLUMNAR.to_table(expected_rows).to_pylist()

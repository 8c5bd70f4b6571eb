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


# Struct rows as the API layer reads them: JSON kinds only (str, float, bool, None, objects), fields
# missing here and there, unknown fields, and columns that mix kinds.
STRUCT_VALUES: dict[str, list[Any]] = {
    **{name: values for name, values in TEXT.items() if name != "count"},
    "count": [3.0, 3.5, -1.0, 70000.0, 2.0**53, 2.0**53 + 2, -0.0, "12", True, None],
    "ratio": [0.1, 0.5, 2.5, 2.5000001, float("nan"), float("inf"), "1.0", None],
    "flag": [True, False, 1.0, "true", None],
    "moment": [*TEXT["moment"], "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.1234567Z", "0000-01-01T00:00:00Z",
               "2024-02-30T00:00:00Z", "2024-12-31T23:59:60Z", "2024-01-02t03:04:05z", "9999-12-31T23:59:59.999999Z"],
    "day": [*TEXT["day"], "0000-01-01", "0001-01-01", "9999-12-31"],
    "amount": [*TEXT["amount"], 1.5, 0.1, 1.005, 1e9],
    "zz_unknown": ["x", None],
}


def random_struct_rows(rng: random.Random, count: int, homogeneous: bool) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        row: dict[str, Any] = {}
        for name, values in STRUCT_VALUES.items():
            if name == "zz_unknown" and rng.random() < 0.95:
                continue
            if rng.random() < 0.1:
                continue  # missing
            one_kind = [v for v in values if type(v) is type(values[0]) or v is None]
            if rng.random() < 0.85:
                row[name] = values[0]  # each list starts with a valid value: about half the rows are valid
            else:
                row[name] = rng.choice(values if not homogeneous and rng.random() < 0.3 else one_kind)
        if rng.random() < 0.02:
            row["note"] = {"nested": "object"}
        rows.append(row)
    return rows


@pytest.mark.parametrize("homogeneous", [True, False], ids=["one-kind-columns", "mixed-columns"])
@pytest.mark.parametrize("seed", range(4))
def test_struct_columns_verdicts_equal_row_by_row_verdicts(homogeneous: bool, seed: int) -> None:
    from duckdb_spawn_server.domain.imports import StructRows

    rng = random.Random(seed)
    rows = random_struct_rows(rng, 400, homogeneous)
    chunk = StructRows.from_mappings(rows)
    result = COLUMNAR.validate_columns(chunk.count, chunk.columns, first_row=11)

    expected_rows, expected_errors = [], {}
    for number, row in enumerate(rows, start=11):
        try:
            expected_rows.append(VALIDATOR.validate_create(row, prefix=""))
        except InvalidArgument as error:
            expected_errors[number] = [(v.field, v.reason, v.description) for v in error.violations]
    got_errors = {e.row_number: [(v.field, v.reason, v.description) for v in e.violations] for e in result.errors}
    assert got_errors == expected_errors
    assert 0 < len(expected_errors) < len(rows)
    assert result.valid.to_pylist() == COLUMNAR.to_table(expected_rows).to_pylist()


@pytest.mark.parametrize("seed", range(3))
def test_struct_columns_size_checks_equal_row_by_row_checks(seed: int) -> None:
    from duckdb_spawn_server.domain.columnar import MISSING
    from duckdb_spawn_server.domain.errors import DomainError
    from duckdb_spawn_server.domain.imports import StructRows
    from duckdb_spawn_server.domain.limits import Limits

    rng = random.Random(seed)
    limits = Limits(max_attributes=12, max_attribute_bytes=40)
    for _ in range(60):
        rows = random_struct_rows(rng, 30, homogeneous=False)
        for row in rows:
            if rng.random() < 0.05:
                row["name"] = "x" * rng.choice((5, 8, 9, 30))
            if rng.random() < 0.03:
                row.update({f"extra{k}": 1.0 for k in range(rng.choice((1, 3)))})
        chunk = StructRows.from_mappings(rows)
        expected = None
        for number, row in enumerate(rows, start=5):
            try:
                limits.check_attribute_values(row, f"rows[{number}]")
            except DomainError as error:
                expected = (type(error), str(error), [(v.field, v.reason) for v in error.violations])
                break
        try:
            limits.check_attribute_columns(chunk.count, chunk.columns, 5, MISSING)
            got = None
        except DomainError as error:
            got = (type(error), str(error), [(v.field, v.reason) for v in error.violations])
        assert got == expected

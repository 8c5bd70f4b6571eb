"""Exports keep each value's exact form, whichever writer produces the format.

JSON lines are rendered by DuckDB (json_object with casts); the service's
JSON form is the one its Python code has always written (`to_json_value`).
Both are compared here on awkward values: float32 digits, microseconds,
years before 1000, the largest integers, text that needs escaping. Parquet
comes from DuckDB's writer and must carry the same column types as the
Arrow IPC export (DuckDB would otherwise store HUGEINT as an inexact DOUBLE).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from duckdb_spawn_server.domain.queries import ExportFormat
from duckdb_spawn_server.domain.values import to_json_value

from tests.support.stack import Stack, storage_stack

COLUMNS = [("label", "VARCHAR"), ("flag", "BOOLEAN"), ("ratio", "DOUBLE"), ("score", "REAL"), ("big", "BIGINT"),
           ("ubig", "UBIGINT"), ("huge", "HUGEINT"), ("tiny", "TINYINT"), ("amount", "DECIMAL(38,10)"),
           ("cents", "DECIMAL(5,2)"), ("whole", "DECIMAL(18,0)"), ("day", "DATE"), ("moment", "TIMESTAMP"),
           ("ref", "UUID")]
DOCUMENT = {"name": "forms", "columns": [{"name": "id", "type": "UUID", "required": True},
                                         *({"name": n, "type": t} for n, t in COLUMNS)]}
ROWS: list[dict[str, Any]] = [
    {"label": 'quote " backslash \\ slash / tab \t unit \x1f line\u2028 é ✓ 😀', "flag": True, "ratio": 1e20,
     "score": 0.1, "big": str(2**63 - 1), "ubig": str(2**64 - 1), "huge": str(2**127 - 1), "tiny": -128,
     "amount": "-0.0000000001", "cents": "-0.05", "whole": "999999999999999999", "day": "0005-01-02",
     "moment": "0005-01-02T03:04:05.000007Z", "ref": str(uuid.UUID(int=1))},
    {"label": "", "flag": False, "ratio": -1.5e-7, "score": 3.4028234663852886e38, "big": str(-(2**63)),
     "ubig": "0", "huge": str(-(2**127)), "tiny": 127, "amount": "1234567890123456789012345678.0123456789",
     "cents": "0", "whole": "-1", "day": "9999-12-31", "moment": "9999-12-31T23:59:59.999999Z",
     "ref": str(uuid.UUID(int=2**128 - 1))},
    {"label": "x", "flag": True, "ratio": 0.0, "score": -2.5, "big": str(2**53 + 1), "ubig": str(2**63),
     "huge": "0", "tiny": 0, "amount": "0.5", "cents": "999.99", "whole": "0", "day": "2024-02-29",
     "moment": "2024-02-29T00:00:00Z", "ref": str(uuid.UUID(int=3))},
    {name: None for name, _ in COLUMNS},
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with storage_stack(tmp_path_factory.mktemp("forms") / "forms.duckdb", "forms_schema", DOCUMENT) as built:
        for row in ROWS:
            built.manager.create(row)
        yield built


@pytest.fixture(scope="module")
def stack_without_hugeint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Parquet from DuckDB's own writer (a HUGEINT column sends the table through pyarrow's)."""
    document = {**DOCUMENT, "columns": [c for c in DOCUMENT["columns"] if c["name"] != "huge"]}
    with storage_stack(tmp_path_factory.mktemp("forms") / "forms.duckdb", "forms_schema", document) as built:
        for row in ROWS:
            built.manager.create({k: v for k, v in row.items() if k != "huge"})
        yield built


def exported(stack: Stack, export_format: ExportFormat) -> bytes:
    return b"".join(chunk for chunk, _ in stack.manager.export(export_format, order_by="tiny"))


def test_json_lines_carry_the_services_json_form_of_every_value(stack: Stack) -> None:
    arrow_rows = pa.ipc.open_stream(exported(stack, ExportFormat.ARROW_IPC)).read_all().to_pylist()
    # What the service's Python JSON writer makes of the same values (the form JSON lines always had).
    expected = [json.loads(json.dumps(row, default=to_json_value)) for row in arrow_rows]
    lines = exported(stack, ExportFormat.JSONL).decode().split("\n")
    assert lines[-1] == "", "every line ends with a newline"
    got = [json.loads(line) for line in lines[:-1]]
    assert len(got) == len(ROWS)
    for row, want in zip(got, expected, strict=True):
        assert list(row) == [name for name in want], "columns in schema order"
        assert row == want
    first, middle, last, nulls = got  # by tiny: -128, 0, 127, null
    assert first["moment"] == "0005-01-02T03:04:05.000007Z" and first["day"] == "0005-01-02"
    assert first["huge"] == str(2**127 - 1) and first["ubig"] == 2**64 - 1 and first["amount"] == "-0.0000000001"
    assert first["score"] == 0.10000000149011612  # the float32 value, not its shortest text
    assert middle["moment"] == "2024-02-29T00:00:00Z" and middle["cents"] == "999.99"
    assert last["moment"] == "9999-12-31T23:59:59.999999Z" and last["huge"] == str(-(2**127))
    assert [k for k, v in nulls.items() if v is not None] == ["id"]


@pytest.mark.parametrize("writer", ["duckdb", "pyarrow"])
def test_parquet_has_the_arrow_exports_types_and_values(request: pytest.FixtureRequest, writer: str) -> None:
    stack: Stack = request.getfixturevalue("stack_without_hugeint" if writer == "duckdb" else "stack")
    arrow_table = pa.ipc.open_stream(exported(stack, ExportFormat.ARROW_IPC)).read_all()
    parquet_table = pq.read_table(io.BytesIO(exported(stack, ExportFormat.PARQUET)))
    assert parquet_table.schema.remove_metadata() == arrow_table.schema.remove_metadata()
    assert parquet_table.to_pylist() == arrow_table.to_pylist()
    assert parquet_table.num_rows == len(ROWS)
    if writer == "pyarrow":
        assert parquet_table.column("huge").to_pylist()[0] == 2**127 - 1

"""JSON Schema (2020-12) documents: what normalises, and what rejects the whole document."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from duckdb_spawn_server.domain.schema import ColumnRole, InvalidSchema
from duckdb_spawn_server.ontology.formats import decode_document, parse_schema_document, parse_schema_text
from duckdb_spawn_server.ontology.json_schema_format import ecma_search_to_fullmatch

DOCUMENT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "x-duckdb-table": "projects", "type": "object", "additionalProperties": False,
    "required": ["project_id", "project_name", "total_amount"],
    "properties": {
        "project_id": {"type": "string", "format": "uuid", "readOnly": True},
        "project_name": {"type": "string", "maxLength": 80},
        "total_amount": {"type": ["string", "number"], "x-duckdb-type": "DECIMAL(20,2)", "minimum": 0},
        "maturity_years": {"type": "integer"},
        "ratio": {"type": "number"},
        "active": {"type": ["boolean", "null"]},
        "signed_on": {"type": "string", "format": "date"},
        "creation_date": {"type": "string", "format": "date", "readOnly": True},
        "currency_code": {"type": "string", "x-duckdb-type": "CHAR(3)", "default": "USD"},
    },
}


def test_properties_normalise_in_order_with_types_roles_and_rules() -> None:
    schema = parse_schema_document("project_schema", DOCUMENT)
    assert schema.table_name == "projects" and schema.source_format == "json-schema"
    assert [(c.name, c.type.sql, c.required) for c in schema.columns] == [
        ("project_id", "UUID", True), ("project_name", "VARCHAR", True), ("total_amount", "DECIMAL(20,2)", True),
        ("maturity_years", "BIGINT", False), ("ratio", "DOUBLE", False), ("active", "BOOLEAN", False),
        ("signed_on", "DATE", False), ("creation_date", "DATE", False), ("currency_code", "CHAR(3)", False)]
    assert schema.id_column.name == "project_id"
    assert schema.column("creation_date").role is ColumnRole.CREATE_TIME
    assert schema.column("project_name").max_length == 80
    assert schema.column("currency_code").default == "USD"
    assert schema.version.startswith("sha256:")
    assert parse_schema_document("project_schema", {**DOCUMENT, "x-duckdb-version": "7"}).version == "7"


def test_the_title_names_the_table_when_there_is_no_table_keyword() -> None:
    document = {k: v for k, v in DOCUMENT.items() if k != "x-duckdb-table"}
    assert parse_schema_document("s", {**document, "title": "loans"}).table_name == "loans"


def _mutated(mutate) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(DOCUMENT)
    mutate(document)
    return document


@pytest.mark.parametrize("mutate", [
    lambda d: d.update({"$schema": "http://json-schema.org/draft-07/schema#"}),
    lambda d: d.update(type="objekt"),  # not a valid JSON Schema at all
    lambda d: d.update(type="array"),
    lambda d: d.update(additionalProperties=True),
    lambda d: d["properties"].update(nested={"type": "object"}),
    lambda d: d["properties"].update(tags={"type": "array", "items": {"type": "string"}}),
    lambda d: d["properties"].update(email={"type": "string", "format": "email"}),
    lambda d: d["properties"].update(code={"type": "string", "minLength": 2}),  # a rule we cannot enforce
    lambda d: d["properties"].update(ref={"$ref": "#/$defs/x"}),
    lambda d: d["properties"].update(either={"type": ["string", "integer"]}),
    lambda d: d["properties"].update(amount={"type": "boolean", "x-duckdb-type": "DECIMAL(5,2)"}),
    lambda d: d["properties"].update(amount={"type": "string", "x-duckdb-type": "MONEY"}),
    lambda d: d["properties"].update(amount={"x-duckdb-type": "VARCHAR); DROP TABLE projects; --"}),
    lambda d: d["properties"].update({'x"; DROP TABLE projects; --': {"type": "string"}}),
    lambda d: d.update({"x-duckdb-table": 'projects"; DROP TABLE projects; --'}),
    lambda d: d["properties"].update(owner={"type": "string", "readOnly": True}),  # read-only but client data
    lambda d: d["required"].append("ghost"),
    lambda d: d["properties"].update(n={"type": "integer", "maximum": 1, "minimum": 2}),
    lambda d: d["properties"].update(p={"type": "string", "pattern": "("}),
    lambda d: d.update({"x-duckdb-unknown": 1}),
])
def test_any_unsupported_or_unsafe_part_rejects_the_whole_document(mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidSchema):
        parse_schema_document("project_schema", _mutated(mutate))


def test_other_vendor_annotations_are_allowed() -> None:
    assert parse_schema_document("s", _mutated(lambda d: d.update({"x-owner": "risk-team"}))).table_name == "projects"


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2", b"\xff\xfe", b'{"a": NaN}', b"[" * 100_000, b" " * (2 << 20)])
def test_undecodable_documents_are_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidSchema):
        decode_document(raw)


def test_a_seed_document_is_still_a_seed_document() -> None:
    schema = parse_schema_text("s", b'{"name": "t", "columns": [{"name": "id", "type": "UUID"}]}')
    assert schema.source_format == "seed"


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("^[A-Z]{3}$", "EUR", True), ("^[A-Z]{3}$", "EUR\n", False), ("[A-Z]{3}", "xEURx", True),
    ("^a|b$", "ab", True), ("[$]", "a$b", True), (r"\$", "a$b", True), ("x$", "x\n", False),
])
def test_json_schema_patterns_keep_their_meaning(pattern: str, value: str, matches: bool) -> None:
    import re

    assert (re.fullmatch(ecma_search_to_fullmatch(pattern), value) is not None) is matches

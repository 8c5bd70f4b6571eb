"""JSON Schema (2020-12) documents: what normalises, and what rejects the whole document."""

from __future__ import annotations

import copy
import re
import unicodedata
from typing import Any

import pytest
from duckdb_spawn_server.domain.patterns import InvalidPattern, compile_pattern
from duckdb_spawn_server.domain.schema import MAX_PATTERN_LENGTH, ColumnRole, InvalidSchema
from duckdb_spawn_server.domain.validation import AttributeValidator
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
    # ECMA-262's classes: \d and \w are ASCII, \s is Unicode white space, `.` stops at every line terminator.
    (r"^\d+$", "123", True), (r"^\d+$", "١٢٣", False), (r"^\d+$", "１２３", False), (r"^\w+$", "é", False),
    (r"^\s$", "\v", True), (r"^\s$", "\u00a0", True), (r"^\s$", "\u3000", True), (r"^\s$", "\x1c", False),
    (r"^\S$", "\u2028", False), (r"^[\S]$", "x", True), (r"^[^\s]$", "\ufeff", False), (r"^[\s\d]+$", " 1\t", True),
    (r"^a.b$", "aéb", True), (r"^a.b$", "a\rb", False), (r"^a.b$", "a\u2029b", False), (r"^.$", "😀", True),
    # Escapes that name characters, and classes RE2 would read otherwise.
    (r"^\u00e9$", "é", True), (r"^\ud83d\ude00$", "😀", True), (r"^\u{1F600}$", "😀", True), (r"^\x41$", "A", True),
    (r"^\cJ$", "\n", True), (r"^\0$", "\0", True), (r"^[\b]$", "\b", True), (r"^\/\-$", "/-", True),
    (r"^[]$", "", False), (r"^a[]", "ab", False), (r"^[^]$", "\n", True), (r"^[[:alpha:]]$", "a]", True),
    (r"^[[:alpha:]]$", "b", False), (r"\bfoo\b", "a foo.", True), (r"\bfoo\b", "afoo", False),
    (r"^(?<year>\d{4})-(?:0[1-9]|1[0-2])$", "2026-07", True), (r"(?i:eur)", "xEuRx", True),
    (r"^\p{Lu}[a-z]+$", "Émile", True), (r"^(a+)+$", "a" * 30 + "!", False),
])
def test_json_schema_patterns_keep_their_ecma_262_meaning(pattern: str, value: str, matches: bool) -> None:
    assert (compile_pattern(ecma_search_to_fullmatch(pattern)).fullmatch(value) is not None) is matches


def test_ecma_white_space_is_exactly_ecma_262s_set() -> None:
    # WhiteSpace and LineTerminator (ECMA-262 §12.2, §12.3): TAB VT FF SP NBSP ZWNBSP, Zs, LF CR LS PS.
    expected = {0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
                0x205F, 0x3000, 0xFEFF}
    assert expected == {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Zs"} | {
        0x9, 0xA, 0xB, 0xC, 0xD, 0xFEFF, 0x2028, 0x2029}
    space, not_space = (compile_pattern(ecma_search_to_fullmatch(p)) for p in (r"^[\s]$", r"^[\S]$"))
    # Every white space character is in the BMP: all of it, and the other planes' ends.
    code_points = [c for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF] + [0x10000, 0x1F600, 0x10FFFF]
    assert {c for c in code_points if space.fullmatch(chr(c))} == expected
    assert {c for c in code_points if not not_space.fullmatch(chr(c))} == expected


@pytest.mark.parametrize(("pattern", "problem"), [
    (r"^(a)\1$", "backreferences are not supported"),
    (r"^(?<x>a)\k<x>$", "backreferences are not supported"),
    (r"^(?=a)a$", "lookahead and lookbehind are not supported"),
    (r"^(?<=a)b", "lookahead and lookbehind are not supported"),
    (r"\Z", "not an ECMA-262 escape"), (r"\Qa", "not an ECMA-262 escape"), (r"\a", "not an ECMA-262 escape"),
    ("(?m)^a$", "not ECMA-262 syntax"), ("(?s:.)", "not ECMA-262 syntax"), ("(?P<n>a)", "not ECMA-262 syntax"),
    ("a)|(b", "unmatched ')'"), ("(a", "missing ')'"), ("[a", "missing ']'"), ("a\\", "lone backslash"),
    (r"\ud800", "not a character"), (r"\xZ1", "two hex digits"), (r"\c1", "ASCII letter"),
    ("(?:a{1000}){1000}", "RE2 cannot compile it"),
])
def test_patterns_re2_cannot_run_or_not_ecma_262_are_refused_with_the_reason(pattern: str, problem: str) -> None:
    with pytest.raises(InvalidPattern, match=re.escape(problem)):
        compile_pattern(ecma_search_to_fullmatch(pattern))


def test_a_document_with_such_a_pattern_is_rejected_whole_with_the_reason() -> None:
    document = _mutated(lambda d: d["properties"].update(code={"type": "string", "pattern": r"^(\w)\1$"}))
    with pytest.raises(InvalidSchema) as rejected:
        parse_schema_document("project_schema", document)
    assert rejected.value.problems == [
        r"column 'code': 'pattern' is refused: RE2 cannot compile it: invalid escape sequence: \1 "
        "(backreferences are not supported)"]


def test_loading_a_document_never_runs_pythons_re_on_its_patterns() -> None:
    # Valid ECMA-262 and RE2 that Python's `re` refuses: jsonschema's own "regex" format check is off.
    schema = parse_schema_document("s", _mutated(lambda d: d["properties"].update(
        initial={"type": "string", "pattern": r"^\p{Lu}\u{1F600}?$"})))
    validator = AttributeValidator(schema)
    assert validator.compiled("initial").convert("É") == "É"
    assert len(rejections := _problems(lambda d: d["properties"].update(p={"type": "string", "pattern": "("}))) == 1
    assert "missing ')'" in rejections[0]


def test_the_length_limit_applies_to_the_pattern_as_written() -> None:
    # `\s` and `.` are written out for RE2, so the stored form is longer than the 512 characters allowed.
    written = r"^\s*" + r"[a-z]\s." * 60 + "$"
    assert len(written) <= MAX_PATTERN_LENGTH
    schema = parse_schema_document("s", _mutated(lambda d: d["properties"].update(
        words={"type": "string", "pattern": written})))
    assert len(schema.column("words").pattern) > MAX_PATTERN_LENGTH
    assert _problems(lambda d: d["properties"].update(words={"type": "string", "pattern": "a" * 513}))


def _problems(mutate) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidSchema) as rejected:
        parse_schema_document("project_schema", _mutated(mutate))
    return rejected.value.problems

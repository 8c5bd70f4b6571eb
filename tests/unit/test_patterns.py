"""The compile step for ontology patterns (RE2), and the places patterns are applied."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from duckdb_spawn_server.domain.columnar import ColumnarValidator, _PatternProof
from duckdb_spawn_server.domain.errors import InvalidArgument
from duckdb_spawn_server.domain.patterns import InvalidPattern, anchored, compile_pattern
from duckdb_spawn_server.domain.schema import InvalidSchema
from duckdb_spawn_server.domain.validation import AttributeValidator
from duckdb_spawn_server.ontology.seed_format import parse_seed_schema

HOSTILE = "a" * 30 + "!"  # 12.5 s in Python's re against ^(a+)+$; each extra `a` doubles it


def test_a_backtracking_pattern_compiles_and_matches_in_linear_time() -> None:
    regex = compile_pattern("^(a+)+$")
    assert regex.fullmatch(HOSTILE) is None
    assert regex.fullmatch("a" * 100_000 + "!") is None  # would outlast the universe with backtracking
    assert regex.fullmatch("a" * 100_000) is not None


@pytest.mark.parametrize(("pattern", "problem"), [
    (r"(a)\1", r"invalid escape sequence: \1 (backreferences are not supported)"),
    (r"(?P<x>a)(?P=x)", "backreferences are not supported"),
    (r"a(?=b)", "invalid perl operator: (?= (lookahead and lookbehind are not supported)"),
    (r"a(?!b)", "lookahead and lookbehind are not supported"),
    (r"(?<=a)b", "lookahead and lookbehind are not supported"),
    (r"(?<!a)b", "lookahead and lookbehind are not supported"),
    (r"a\Z", r"invalid escape sequence: \Z"),  # Python's end-of-string; RE2 spells it \z
    ("(a", "missing )"), ("a++", "bad repetition operator"), ("x{1001}", "invalid repetition size"),
    (r"(\pL{100}){10}", "pattern too large"),
])
def test_patterns_re2_cannot_run_are_refused_with_the_reason(pattern: str, problem: str) -> None:
    with pytest.raises(InvalidPattern) as refused:
        compile_pattern(pattern)
    assert str(refused.value).startswith("RE2 cannot compile it: ")
    assert problem in str(refused.value)


def test_re2_classes_are_ascii() -> None:
    assert compile_pattern(r"\d+").fullmatch("123")
    for text in ("١٢٣", "१२३", "１２３"):  # Arabic-Indic, Devanagari, full-width digits
        assert compile_pattern(r"\d+").fullmatch(text) is None
    assert compile_pattern(r"\w+").fullmatch("é") is None
    assert compile_pattern(r"\p{Nd}+").fullmatch("١٢٣")  # Unicode classes are there when asked for


@pytest.mark.parametrize("mutation", [
    {"pattern": r"^(a)\1$"}, {"pattern": r"^(?!x).*$"}, {"pattern": r"^[A-Z]{3}\Z"},
])
def test_a_seed_document_with_such_a_pattern_is_rejected_whole(mutation: dict[str, str]) -> None:
    document = {"name": "t", "columns": [{"name": "id", "type": "UUID"},
                                        {"name": "code", "type": "VARCHAR", **mutation}]}
    with pytest.raises(InvalidSchema) as rejected:
        parse_seed_schema("t", document)
    assert rejected.value.problems[0].startswith("column 'code': 'pattern' is refused: RE2 cannot compile it")


def test_seed_patterns_must_match_the_whole_value() -> None:
    schema = parse_seed_schema("t", {"name": "t", "columns": [
        {"name": "id", "type": "UUID"}, {"name": "ref", "type": "VARCHAR", "pattern": "LN-[0-9]+"},
        {"name": "end", "type": "VARCHAR", "pattern": "^x$"}]})
    validator = AttributeValidator(schema)
    assert validator.validate_create({"ref": "LN-12", "end": "x"}, prefix="") == {"ref": "LN-12", "end": "x"}
    with pytest.raises(InvalidArgument) as refused:
        validator.validate_create({"ref": "xLN-12", "end": "x\n"}, prefix="")
    assert {(v.field, v.reason) for v in refused.value.violations} == {("ref", "PATTERN_MISMATCH"),
                                                                      ("end", "PATTERN_MISMATCH")}


PATTERNS = [
    "^(a+)+$", "[A-Z]{3}", r"LN-\d+", r"(?s:.*?)(?:^a.c$)(?s:.*)", r"\p{Lu}\p{Ll}*", r"(?i)kelvin",
    r"[^\n\r\x{2028}\x{2029}]+", r"\x{1F600}+", "", "a|", r"\Qa.b\E", r"\bword\b", "(?:)", r"\A\z",
]
VALUES = ["", "a", "aa", HOSTILE, "EUR", "eur", "LN-12", "LN-١٢", "abc", "a\nc", "Émile", "émile", "KELVIN",
          "\u212aelvin", "line\u2028break", "😀😀", "a.b", "axb", "word", "a word.", None]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_vectorised_proof_gives_the_row_validators_verdicts(pattern: str) -> None:
    regex = compile_pattern(pattern)
    expected = [value is not None and regex.fullmatch(value) is not None for value in VALUES]
    column = pa.array(VALUES, pa.string())
    assert _PatternProof(pattern).matches(column).fill_null(False).to_pylist() == expected
    arrow_search = pc.match_substring_regex(column, anchored(pattern)).fill_null(False).to_pylist()
    assert arrow_search == expected  # one RE2 or the other: same verdicts here


def test_arrow_import_with_a_backtracking_pattern_reports_the_mismatch() -> None:
    schema = parse_seed_schema("t", {"name": "t", "columns": [
        {"name": "id", "type": "UUID"}, {"name": "name", "type": "VARCHAR", "pattern": "^(a+)+$"}]})
    columnar = ColumnarValidator(schema, AttributeValidator(schema))
    table = pa.table({"name": ["aaa", HOSTILE, "a" * 10_000 + "!", "b"]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    result = columnar.validate_arrow(sink.getvalue().to_pybytes(), first_row=1, message_number=1)
    assert result.valid.column("name").to_pylist() == ["aaa"]
    assert [(e.row_number, [(v.field, v.reason) for v in e.violations]) for e in result.errors] == [
        (row, [("name", "PATTERN_MISMATCH")]) for row in (2, 3, 4)]

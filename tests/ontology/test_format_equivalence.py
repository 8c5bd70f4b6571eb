"""The same rules in the seed format and in JSON Schema accept and reject exactly the same payloads.

Both documents are served by the real ontology server, fetched with the
service's client, normalised, and then every payload of a shared corpus is
validated by both: the verdicts (and the rows accepted payloads turn into)
must be identical, and must be the expected ones.
"""

from __future__ import annotations

from typing import Any

import pytest
from duckdb_spawn_server.domain.errors import InvalidArgument
from duckdb_spawn_server.domain.validation import AttributeValidator
from duckdb_spawn_server.ontology.client import OntologyClient
from duckdb_spawn_server.ontology.formats import parse_schema_text

from tests.support.ontology import Ontology

SEED_RULES = {
    "name": "loans", "version": "r1",
    "columns": [
        {"name": "loan_id", "type": "UUID", "required": True, "role": "id"},
        {"name": "borrower", "type": "VARCHAR(40)", "required": True},
        {"name": "amount", "type": "DECIMAL(12,2)", "required": True, "minimum": 0, "maximum": 1000000000},
        {"name": "rate", "type": "DECIMAL(5,3)", "minimum": 0, "maximum": 100},
        {"name": "term_months", "type": "INTEGER", "required": True, "minimum": 1, "maximum": 480},
        {"name": "big_counter", "type": "BIGINT"},
        {"name": "score", "type": "DOUBLE", "maximum": 1},
        {"name": "secured", "type": "BOOLEAN"},
        {"name": "signed_on", "type": "DATE"},
        {"name": "reviewed_at", "type": "TIMESTAMP"},
        {"name": "status", "type": "VARCHAR", "required": True, "enum": ["DRAFT", "SIGNED"], "default": "DRAFT"},
        {"name": "currency", "type": "CHAR(3)", "pattern": "^[A-Z]{3}$", "default": "EUR"},
        {"name": "reference", "type": "VARCHAR", "pattern": "LN-[0-9]+", "max_length": 12},
        {"name": "created", "type": "TIMESTAMP", "role": "create_time"},
    ],
}

JSON_SCHEMA_RULES = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "x-duckdb-table": "loans", "x-duckdb-version": "r1",
    "type": "object", "additionalProperties": False,
    "required": ["loan_id", "borrower", "amount", "term_months", "status"],
    "properties": {
        "loan_id": {"type": "string", "format": "uuid", "x-duckdb-role": "id", "readOnly": True},
        "borrower": {"type": "string", "x-duckdb-type": "VARCHAR(40)"},
        "amount": {"type": ["string", "number"], "x-duckdb-type": "DECIMAL(12,2)", "minimum": 0,
                   "maximum": 1000000000},
        "rate": {"type": ["string", "number", "null"], "x-duckdb-type": "DECIMAL(5,3)", "minimum": 0,
                 "maximum": 100},
        "term_months": {"type": "integer", "x-duckdb-type": "INTEGER", "minimum": 1, "maximum": 480},
        "big_counter": {"type": "integer"},
        "score": {"type": "number", "maximum": 1},
        "secured": {"type": "boolean"},
        "signed_on": {"type": "string", "format": "date"},
        "reviewed_at": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": ["DRAFT", "SIGNED"], "default": "DRAFT"},
        "currency": {"type": "string", "x-duckdb-type": "CHAR(3)", "pattern": "^[A-Z]{3}$", "default": "EUR"},
        "reference": {"type": "string", "pattern": "^LN-[0-9]+$", "maxLength": 12},
        "created": {"type": "string", "format": "date-time", "x-duckdb-role": "create_time", "readOnly": True},
    },
}

BASE = {"borrower": "ACME Wind", "amount": "250000.00", "term_months": 120}


def payload(**changes: Any) -> dict[str, Any]:
    merged = {**BASE, **changes}
    return {k: v for k, v in merged.items() if v is not ...}


# (label, payload, expected violations: field -> reason; {} means accepted)
CORPUS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("minimal", payload(), {}),
    ("every field", payload(rate="3.125", big_counter="9007199254740993", score=0.5, secured=True,
                            signed_on="2026-01-31", reviewed_at="2026-01-31T12:00:00Z", status="SIGNED",
                            currency="USD", reference="LN-42"), {}),
    ("null optional fields", payload(rate=None, reference=None, signed_on=None), {}),
    ("amount as a number that fits", payload(amount=1250.5), {}),
    ("integer as a string", payload(term_months="12"), {}),
    ("integer as a whole double", payload(term_months=12.0), {}),
    ("server-managed fields are ignored", payload(loan_id="not even a uuid", created="whenever"), {}),
    ("missing required", payload(borrower=..., amount=...), {"borrower": "REQUIRED", "amount": "REQUIRED"}),
    ("required given as null", payload(term_months=None), {"term_months": "REQUIRED"}),
    ("too many decimals", payload(amount="12.345"), {"amount": "PRECISION_EXCEEDED"}),
    ("decimal too large for its precision", payload(rate="123.000"), {"rate": "OUT_OF_RANGE"}),
    ("below minimum", payload(amount="-0.01"), {"amount": "OUT_OF_RANGE"}),
    ("above maximum", payload(amount="1000000000.01"), {"amount": "OUT_OF_RANGE"}),
    ("integer below minimum", payload(term_months=0), {"term_months": "OUT_OF_RANGE"}),
    ("integer above maximum", payload(term_months=481), {"term_months": "OUT_OF_RANGE"}),
    ("fractional integer", payload(term_months=1.5), {"term_months": "TYPE_MISMATCH"}),
    ("integer beyond 2^53 as a double", payload(big_counter=float(2**53 + 2)), {"big_counter": "PRECISION_LOSS"}),
    ("integer beyond BIGINT", payload(big_counter=str(2**63)), {"big_counter": "OUT_OF_RANGE"}),
    ("double above maximum", payload(score=1.5), {"score": "OUT_OF_RANGE"}),
    ("boolean as text", payload(secured="yes"), {"secured": "TYPE_MISMATCH"}),
    ("impossible date", payload(signed_on="2026-02-30"), {"signed_on": "INVALID_FORMAT"}),
    ("date for a timestamp", payload(reviewed_at="2026-01-31"), {"reviewed_at": "INVALID_FORMAT"}),
    ("not in the enum", payload(status="VOID"), {"status": "NOT_IN_ENUM"}),
    ("enum is case-sensitive", payload(status="draft"), {"status": "NOT_IN_ENUM"}),
    ("pattern mismatch", payload(currency="usd"), {"currency": "PATTERN_MISMATCH"}),
    ("pattern with a trailing newline", payload(reference="LN-1\n"), {"reference": "PATTERN_MISMATCH"}),
    ("pattern must match the whole value", payload(reference="xLN-12"), {"reference": "PATTERN_MISMATCH"}),
    ("pattern with a suffix", payload(reference="LN-12x"), {"reference": "PATTERN_MISMATCH"}),
    ("longer than CHAR(3)", payload(currency="EURO"), {"currency": "TOO_LONG"}),
    ("longer than VARCHAR(40)", payload(borrower="x" * 41), {"borrower": "TOO_LONG"}),
    ("longer than maxLength", payload(reference="LN-1234567890"), {"reference": "TOO_LONG"}),
    ("unknown field", payload(sponsor="ACME"), {"sponsor": "UNKNOWN_FIELD"}),
    ("wrong types everywhere", payload(borrower=7, amount=True, secured=1, signed_on=20260131),
     {"borrower": "TYPE_MISMATCH", "amount": "TYPE_MISMATCH", "secured": "TYPE_MISMATCH",
      "signed_on": "TYPE_MISMATCH"}),
]


def verdict(validator: AttributeValidator, attributes: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    try:
        return {}, validator.validate_create(attributes, prefix="")
    except InvalidArgument as error:
        return {v.field: v.reason for v in error.violations}, {}


@pytest.fixture(scope="module")
def validators(tmp_path_factory: pytest.TempPathFactory) -> tuple[AttributeValidator, AttributeValidator]:
    ontology = Ontology(tmp_path_factory.mktemp("ontology"))
    try:
        ontology.write(SEED_RULES, "loans_seed")
        ontology.write(JSON_SCHEMA_RULES, "loans_json_schema")
        client = OntologyClient(ontology.url, 5.0)
        seed = parse_schema_text("loans", client.fetch_schema("loans_seed").body)
        json_schema = parse_schema_text("loans", client.fetch_schema("loans_json_schema").body)
        client.close()
    finally:
        ontology.stop()
    assert (seed.source_format, json_schema.source_format) == ("seed", "json-schema")
    assert [c.name for c in seed.columns] == [c.name for c in json_schema.columns]
    assert [c.type.sql for c in seed.columns] == [c.type.sql for c in json_schema.columns]
    return AttributeValidator(seed), AttributeValidator(json_schema)


@pytest.mark.parametrize(("label", "attributes", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_both_formats_give_the_same_verdict(validators: tuple[AttributeValidator, AttributeValidator],
                                           label: str, attributes: dict[str, Any],
                                           expected: dict[str, str]) -> None:
    seed_verdict = verdict(validators[0], attributes)
    json_verdict = verdict(validators[1], attributes)
    assert seed_verdict == json_verdict  # same violations, or the same typed row
    assert seed_verdict[0] == expected

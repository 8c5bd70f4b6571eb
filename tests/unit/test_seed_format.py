import copy

import pytest
from duckdb_spawn_server.domain.errors import InvalidArgument
from duckdb_spawn_server.domain.schema import ColumnRole, InvalidSchema
from duckdb_spawn_server.domain.validation import AttributeValidator
from duckdb_spawn_server.ontology.mock import MOCK_PROJECT_SCHEMA, mock_schema
from duckdb_spawn_server.ontology.seed_format import parse_seed_schema


def test_mock_is_the_seed_schema_with_roles_and_rules() -> None:
    schema = mock_schema("project_schema")
    assert schema is not None
    assert schema.table_name == "projects"
    assert len(schema.columns) == 11
    assert schema.id_column.name == "project_id"
    roles = {c.name: c.role for c in schema.columns if c.role is not ColumnRole.DATA}
    assert roles == {"project_id": ColumnRole.ID, "creation_date": ColumnRole.CREATE_TIME,
                     "last_updated": ColumnRole.UPDATE_TIME}
    assert schema.column("status").enum == ("PROPOSED", "ACTIVE", "COMPLETED")
    assert schema.column("status").default == "PROPOSED"
    assert schema.column("currency_code").default == "USD"


def test_version_is_a_stable_content_hash_unless_declared() -> None:
    a = mock_schema("project_schema")
    b = parse_seed_schema("project_schema", copy.deepcopy(MOCK_PROJECT_SCHEMA))
    assert a.version == b.version and a.version.startswith("sha256:")
    declared = parse_seed_schema("project_schema", {**MOCK_PROJECT_SCHEMA, "version": "2026.11.1"})
    assert declared.version == "2026.11.1"


@pytest.mark.parametrize("mutation", [
    lambda d: d.update(name='x"; DROP TABLE projects; --'),
    lambda d: d["columns"].append({"name": 'x"; DROP TABLE projects; --', "type": "VARCHAR"}),
    lambda d: d["columns"].append({"name": "evil", "type": "VARCHAR); DROP TABLE projects; --"}),
    lambda d: d["columns"].append({"name": "project_name", "type": "VARCHAR"}),
    lambda d: d["columns"].append({"name": "x", "type": "VARCHAR", "pattern": "("}),
    lambda d: d["columns"].append({"name": "x", "type": "INTEGER", "default": "abc"}),
    lambda d: d["columns"].append({"name": "x", "type": "VARCHAR", "minimum": 3}),
    lambda d: d["columns"].append({"name": "x", "type": "INTEGER", "minimum": "١٠٠"}),  # Decimal() reads 100
    lambda d: d["columns"].append({"name": "x", "type": "INTEGER", "maximum": "1_000"}),
    lambda d: d["columns"].append({"name": "x", "type": "INTEGER", "enum": ["١", "2"]}),
    lambda d: d["columns"].append({"name": "_internal", "type": "VARCHAR"}),
    lambda d: d["columns"].append({"name": "Upper", "type": "VARCHAR"}),
    lambda d: d.update(columns=[c for c in d["columns"] if c["name"] != "project_id"]),
    lambda d: d.update(columns="nope"),
])
def test_any_bad_part_rejects_the_whole_schema(mutation) -> None:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(MOCK_PROJECT_SCHEMA)
    mutation(document)
    with pytest.raises(InvalidSchema):
        parse_seed_schema("project_schema", document)


def test_validator_reports_every_violation_at_once() -> None:
    validator = AttributeValidator(mock_schema("project_schema"))
    with pytest.raises(InvalidArgument) as caught:
        validator.validate_create({
            "project_name": 5, "total_amount": "1.234", "expected_tri": "1000", "status": "DONE",
            "currency_code": "EURO", "unknown": 1,
        })
    reasons = {v.field: v.reason for v in caught.value.violations}
    assert reasons == {
        "attributes.project_name": "TYPE_MISMATCH",
        "attributes.total_amount": "PRECISION_EXCEEDED",
        "attributes.expected_tri": "OUT_OF_RANGE",
        "attributes.status": "NOT_IN_ENUM",
        "attributes.currency_code": "TOO_LONG",
        "attributes.unknown": "UNKNOWN_FIELD",
        "attributes.maturity_years": "REQUIRED",
        "attributes.dscr": "REQUIRED",
    }


def test_defaults_fill_absent_fields_and_server_columns_are_ignored_on_input() -> None:
    validator = AttributeValidator(mock_schema("project_schema"))
    row = validator.validate_create({
        "project_name": "p", "total_amount": "1", "maturity_years": 1, "expected_tri": "1", "dscr": "1",
        "project_id": "ignored", "creation_date": "ignored",
    })
    assert row["status"] == "PROPOSED" and row["currency_code"] == "USD"
    assert "project_id" not in row and "creation_date" not in row

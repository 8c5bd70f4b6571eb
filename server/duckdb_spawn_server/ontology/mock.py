"""The built-in mock ontology: the seed's 11-column `projects` schema.

Served when `USE_MOCK_ONTO_SERVER=true` (the default) and neither the
ontology server nor a last-known-good copy on disk has given a schema; the
schema cache keeps asking the server and replaces the mock once it answers.
Compared with the seed it adds the rules the seed only described in prose:
the status enum with its default, and the ISO currency code's shape with
its default.
"""

from __future__ import annotations

from typing import Any

from ..domain.schema import TableSchema
from .seed_format import parse_seed_schema

PROJECT_SCHEMA_ID = "project_schema"

MOCK_PROJECT_SCHEMA: dict[str, Any] = {
    "name": "projects",
    "description": "Project information and metrics schema",
    "columns": [
        {"name": "project_id", "type": "UUID", "description": "Unique identifier for the project",
         "required": True},
        {"name": "project_name", "type": "VARCHAR", "description": "Name of the project", "required": True},
        {"name": "description", "type": "TEXT", "description": "Project description", "required": False},
        {"name": "total_amount", "type": "DECIMAL(20,2)", "description": "Total project amount",
         "required": True},
        {"name": "maturity_years", "type": "INTEGER", "description": "Project maturity in years",
         "required": True},
        {"name": "expected_tri", "type": "DECIMAL(5,2)", "description": "Expected TRI", "required": True},
        {"name": "dscr", "type": "DECIMAL(5,2)", "description": "Debt Service Coverage Ratio",
         "required": True},
        {"name": "status", "type": "VARCHAR", "description": "Project status (PROPOSED, ACTIVE, COMPLETED)",
         "required": True, "enum": ["PROPOSED", "ACTIVE", "COMPLETED"], "default": "PROPOSED"},
        {"name": "creation_date", "type": "DATE", "description": "Date of creation", "required": True},
        {"name": "last_updated", "type": "TIMESTAMP", "description": "Last update timestamp",
         "required": True},
        {"name": "currency_code", "type": "CHAR(3)", "description": "Currency code (ISO)", "required": True,
         "pattern": "^[A-Z]{3}$", "default": "USD"},
    ],
}

MOCK_SCHEMAS: dict[str, dict[str, Any]] = {PROJECT_SCHEMA_ID: MOCK_PROJECT_SCHEMA}


def mock_schema(schema_id: str) -> TableSchema | None:
    """The mock's schema for `schema_id`, or None if the mock has none."""
    document = MOCK_SCHEMAS.get(schema_id)
    return parse_seed_schema(schema_id, document) if document is not None else None

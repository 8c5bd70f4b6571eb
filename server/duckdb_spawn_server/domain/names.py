"""Resource names (AIP-122): parsing and formatting `projects/{uuid}`, `tables/{t}`, `schemas/{s}`."""

from __future__ import annotations

import uuid

from .errors import FieldViolation, InvalidArgument
from .schema import is_identifier

PROJECTS_COLLECTION = "projects/"
TABLES_COLLECTION = "tables/"
SCHEMAS_COLLECTION = "schemas/"
_SCHEMA_ID_MAX = 128


def project_name(project_id: uuid.UUID) -> str:
    return f"{PROJECTS_COLLECTION}{project_id}"


def parse_project_name(name: str, field: str = "name") -> uuid.UUID:
    """`projects/{uuid}` -> UUID; anything else is INVALID_ARGUMENT naming `field`."""
    if not name.startswith(PROJECTS_COLLECTION):
        raise _bad_name(field, "must have the form projects/{uuid}")
    try:
        parsed = uuid.UUID(name[len(PROJECTS_COLLECTION):])
    except ValueError:
        raise _bad_name(field, "must have the form projects/{uuid}, with a valid UUID") from None
    return parsed


def table_name(table: str) -> str:
    return f"{TABLES_COLLECTION}{table}"


def parse_table_name(name: str, field: str = "name") -> str:
    """`tables/{table}` -> table; the table part must be a safe identifier."""
    if not name.startswith(TABLES_COLLECTION) or not is_identifier(name[len(TABLES_COLLECTION):]):
        raise _bad_name(field, "must have the form tables/{table}, table matching ^[a-z][a-z0-9_]{0,62}$")
    return name[len(TABLES_COLLECTION):]


def schema_name(schema_id: str) -> str:
    return f"{SCHEMAS_COLLECTION}{schema_id}"


def parse_schema_name(name: str, field: str = "name") -> str:
    """`schemas/{schema_id}` -> schema id (letters, digits, `_`, `-`, `.`)."""
    schema_id = name[len(SCHEMAS_COLLECTION):] if name.startswith(SCHEMAS_COLLECTION) else ""
    if not is_schema_id(schema_id):
        raise _bad_name(field, "must have the form schemas/{schema_id}")
    return schema_id


def is_schema_id(text: str) -> bool:
    return (0 < len(text) <= _SCHEMA_ID_MAX and text[0].isascii() and text[0].isalnum()
            and all(ch.isascii() and (ch.isalnum() or ch in "_-.") for ch in text))


def _bad_name(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {description}",
                           violations=[FieldViolation(field, description, "INVALID_NAME")],
                           reason="INVALID_NAME")

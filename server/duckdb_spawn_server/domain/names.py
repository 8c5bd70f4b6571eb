"""Resource names (AIP-122): parsing and formatting `projects/{uuid}`, `tables/{t}`, `schemas/{s}`."""

from __future__ import annotations

import re
import uuid

from .errors import FieldViolation, InvalidArgument
from .schema import is_identifier

PROJECTS_COLLECTION = "projects/"
TABLES_COLLECTION = "tables/"
SCHEMAS_COLLECTION = "schemas/"
_SCHEMA_ID_MAX = 128
# The canonical 8-4-4-4-12 form in ASCII hex. `uuid.UUID` alone also takes braces, "urn:uuid:",
# no hyphens and non-ASCII digits (int() accepts full-width ones), so one project would have many names.
_UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_uuid(text: str) -> uuid.UUID | None:
    """A UUID in its canonical hyphenated form (either case), else None."""
    return uuid.UUID(text) if _UUID_PATTERN.fullmatch(text) else None


def project_name(project_id: uuid.UUID) -> str:
    return f"{PROJECTS_COLLECTION}{project_id}"


def parse_project_name(name: str, field: str = "name") -> uuid.UUID:
    """`projects/{uuid}` -> UUID; anything else is INVALID_ARGUMENT naming `field`."""
    if not name.startswith(PROJECTS_COLLECTION):
        raise _bad_name(field, "must have the form projects/{uuid}")
    parsed = parse_uuid(name[len(PROJECTS_COLLECTION):])
    if parsed is None:
        raise _bad_name(field, "must have the form projects/{uuid}, with a valid UUID")
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

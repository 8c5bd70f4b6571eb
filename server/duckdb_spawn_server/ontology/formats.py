"""Schema documents as the ontology server sends them: bytes -> JSON -> the internal model.

Two formats are accepted (SPEC, "The ontology server"): the seed format
(`{"name", "columns": [...]}`, ontology/seed_format.py) and a JSON Schema
draft 2020-12 object schema (ontology/json_schema_format.py). The input is
untrusted: size and nesting are bounded, NaN/Infinity are refused, and any
problem rejects the whole document.
"""

from __future__ import annotations

import json
from typing import Any

from ..domain.schema import InvalidSchema, TableSchema
from .json_schema_format import is_json_schema_document, parse_json_schema
from .seed_format import parse_seed_schema

MAX_DOCUMENT_BYTES = 1024 * 1024


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_document(raw: bytes | str) -> Any:
    """Parses JSON text, or raises InvalidSchema saying why it is not a usable document."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidSchema([f"schema document is larger than {MAX_DOCUMENT_BYTES} bytes"])
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidSchema([f"schema document is not valid JSON: {str(error)[:120]}"]) from None
    except RecursionError:
        raise InvalidSchema(["schema document is nested too deeply"]) from None


def parse_schema_document(schema_id: str, document: Any) -> TableSchema:
    """Normalises a decoded document in either format."""
    if is_json_schema_document(document):
        return parse_json_schema(schema_id, document)
    return parse_seed_schema(schema_id, document)


def parse_schema_text(schema_id: str, raw: bytes | str) -> TableSchema:
    return parse_schema_document(schema_id, decode_document(raw))

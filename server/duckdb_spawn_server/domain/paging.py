"""Opaque page tokens (AIP-158).

A token is URL-safe base64 of a small JSON object: a version, a fingerprint
of the query it belongs to (so reusing it with another filter or ordering
fails), and the keyset position after which the next page starts. Tokens
carry no secrets and survive restarts; a damaged or foreign token is
INVALID_ARGUMENT, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .errors import FieldViolation, InvalidArgument

_TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class PageCursor:
    """Where the next page starts: the sort-key values of the last row returned."""

    query: str  # fingerprint of the query (filter + order) the cursor belongs to
    position: tuple[Any, ...]  # JSON-able values of the last row's sort keys
    snapshot: int | None = None  # the change-log position every page of the listing reads


def query_fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def encode_page_token(cursor: PageCursor) -> str:
    fields: dict[str, Any] = {"v": _TOKEN_VERSION, "q": cursor.query, "p": list(cursor.position)}
    if cursor.snapshot is not None:
        fields["s"] = cursor.snapshot
    payload = json.dumps(fields, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_page_token(token: str, expected_query: str) -> PageCursor | None:
    """'' -> None; otherwise the cursor, or INVALID_ARGUMENT if damaged or for another query."""
    if not token:
        return None
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("v") != _TOKEN_VERSION:
            raise ValueError("wrong version")
        query, position, snapshot = payload.get("q"), payload.get("p"), payload.get("s")
        if not isinstance(query, str) or not isinstance(position, list) \
                or not (snapshot is None or (type(snapshot) is int and snapshot >= 0)):
            raise ValueError("wrong shape")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_page_token("page_token is not a token this service issued") from None
    if query != expected_query:
        raise invalid_page_token("page_token belongs to a different filter or order_by; start again without it")
    return PageCursor(query=query, position=tuple(position), snapshot=snapshot)


def invalid_page_token(description: str) -> InvalidArgument:
    return InvalidArgument(description, violations=[FieldViolation("page_token", description, "INVALID_PAGE_TOKEN")],
                           reason="INVALID_PAGE_TOKEN")

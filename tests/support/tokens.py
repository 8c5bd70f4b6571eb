"""Tokens files for tests: one token per role, written in both accepted forms."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path


def write_tokens_file(path: Path) -> dict[str, str]:
    """Writes a tokens file with a reader, writer and admin token; returns role -> token.

    The reader's entry holds the token's SHA-256, the others the token itself.
    """
    tokens = {role: f"{role}-{secrets.token_urlsafe(24)}" for role in ("reader", "writer", "admin")}
    entries = [
        {"name": "reporting", "role": "reader", "sha256": hashlib.sha256(tokens["reader"].encode()).hexdigest()},
        {"name": "loader", "role": "writer", "token": tokens["writer"]},
        {"name": "ops", "role": "admin", "token": tokens["admin"]},
    ]
    path.write_text(json.dumps({"tokens": entries}))
    path.chmod(0o600)
    return tokens

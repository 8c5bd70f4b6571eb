"""Bearer tokens: the tokens file, the generated admin token, and constant-time lookup.

The tokens file (AUTH_TOKENS_FILE) is JSON, so it can be a mounted secret:

    {"tokens": [
      {"name": "reporting", "role": "reader", "sha256": "<hex sha256 of the token>"},
      {"name": "loader",    "role": "writer", "token":  "<the token itself>"}
    ]}

Each entry gives either the token or its SHA-256 (hex); only the SHA-256 is
kept in memory. A presented token is hashed and compared with every entry
using `hmac.compare_digest`, so neither the comparison nor the number of
entries compared depends on how much of a token is right.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from ..domain.access import Principal, Role, Via

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
GENERATED_ADMIN_NAME = "admin"


@dataclass(frozen=True)
class TokenEntry:
    name: str
    role: Role
    digest: bytes  # sha256 of the token's UTF-8 bytes


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenRegistry:
    def __init__(self, entries: Sequence[TokenEntry]) -> None:
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> Principal | None:
        """The principal whose token this is, or None; compares against every entry."""
        presented = digest(token)
        found: TokenEntry | None = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest) and found is None:
                found = entry
        return Principal(found.name, found.role, Via.TOKEN) if found is not None else None


# -- the tokens file ---------------------------------------------------------------------
def load_tokens_file(path: Path, variable: str = "AUTH_TOKENS_FILE") -> list[TokenEntry]:
    """Parses and validates the file; any problem is a ConfigError naming the variable and entry."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{variable}={str(path)!r} cannot be read: {error.strerror}") from None
    except ValueError as error:
        raise ConfigError(f"{variable}={str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("tokens"), list):
        raise ConfigError(f'{variable}: expected a JSON object {{"tokens": [...]}}')
    entries: list[TokenEntry] = []
    for index, item in enumerate(document["tokens"]):
        entries.append(_entry(item, f"{variable}: tokens[{index}]"))
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{variable}: token names must be unique; repeated: {', '.join(duplicates)}")
    digests = [e.digest for e in entries]
    if len(set(digests)) != len(digests):
        raise ConfigError(f"{variable}: the same token is listed twice")
    return entries


def _entry(item: object, where: str) -> TokenEntry:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be an object with name, role and token or sha256")
    unknown = set(item) - {"name", "role", "token", "sha256"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    name, role_text = item.get("name"), item.get("role")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise ConfigError(f"{where}.name must be a non-empty string of at most 128 characters")
    try:
        role = Role.parse(role_text) if isinstance(role_text, str) else Role.parse("")
    except ValueError as error:
        raise ConfigError(f"{where}.role: {error}") from None
    token, hashed = item.get("token"), item.get("sha256")
    if (token is None) == (hashed is None):
        raise ConfigError(f"{where} must have exactly one of token and sha256")
    if token is not None:
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or " " in token:
            raise ConfigError(f"{where}.token must be at least {MIN_TOKEN_LENGTH} printable characters "
                              "without spaces")
        return TokenEntry(name.strip(), role, digest(token))
    if not isinstance(hashed, str) or len(hashed) != 64:
        raise ConfigError(f"{where}.sha256 must be 64 hexadecimal digits")
    try:
        return TokenEntry(name.strip(), role, bytes.fromhex(hashed))
    except ValueError:
        raise ConfigError(f"{where}.sha256 must be 64 hexadecimal digits") from None


# -- the generated admin token ---------------------------------------------------------------
def ensure_admin_token(path: Path) -> TokenEntry:
    """Reads the admin token file, creating it (mode 0600, a fresh random token) if absent.

    Only the file's path is ever logged. A file that others may read is
    refused, as ssh refuses a private key others can read.
    """
    created = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as error:
        raise ConfigError(f"cannot create the admin token file {str(path)!r}: {error.strerror}") from None
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        created = True
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"cannot read the admin token file {str(path)!r}: {error.strerror}") from None
    if mode & 0o077:
        raise ConfigError(f"the admin token file {str(path)!r} is readable by others (mode {mode:o}); "
                          "run chmod 600 on it")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"the admin token file {str(path)!r} holds no token of at least "
                          f"{MIN_TOKEN_LENGTH} characters; delete it to have a new one generated")
    log.warning("no AUTH_TOKENS_FILE configured: %s the admin token file; send its content as "
                "'authorization: Bearer <token>'", "generated" if created else "using",
                extra={"admin_token_file": str(path.resolve())})
    return TokenEntry(GENERATED_ADMIN_NAME, Role.ADMIN, digest(token))

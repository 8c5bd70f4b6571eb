"""Builds the security pieces from Settings: who may call (tokens, certificates), TLS, reflection mode.

The composition root (app.py) calls `build_security` once and hands the
pieces to the call pipeline (api/); everything here fails fast with a
ConfigError naming the variable at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..domain.access import Role
from ..domain.limits import Limits
from ..domain.rate_limit import RateLimiter
from .tls import TlsMaterial, certificate_roles, load_tls
from .tokens import TokenEntry, TokenRegistry, ensure_admin_token, load_tokens_file

ADMIN_TOKEN_FILE_NAME = "admin.token"


@dataclass(frozen=True)
class Security:
    tokens: TokenRegistry
    anonymous_role: Role | None       # None: callers without credentials may call nothing
    certificate_roles: dict[str, Role]
    rate_limiter: RateLimiter | None
    reflection_access: str            # open, authenticated or off
    tls: TlsMaterial | None
    admin_token_file: Path | None     # the generated admin token, when no tokens file is configured
    limits: Limits

    @property
    def reflection_enabled(self) -> bool:
        return self.reflection_access != "off"


def admin_token_path(settings: Settings) -> Path:
    if settings.auth_admin_token_file:
        return Path(settings.auth_admin_token_file)
    return Path(settings.duckdb_path).expanduser().absolute().parent / ADMIN_TOKEN_FILE_NAME


def reflection_access(settings: Settings) -> str:
    """GRPC_REFLECTION, except that AUTH_REQUIRED puts open reflection behind authentication too."""
    if settings.grpc_reflection == "open" and settings.auth_required:
        return "authenticated"
    return settings.grpc_reflection


def build_security(settings: Settings) -> Security:
    entries: list[TokenEntry]
    admin_file: Path | None = None
    if settings.auth_tokens_file:
        entries = load_tokens_file(Path(settings.auth_tokens_file))
    else:
        admin_file = admin_token_path(settings)
        entries = [ensure_admin_token(admin_file)]
    anonymous_role = None if settings.auth_required or settings.auth_anonymous_role == "none" \
        else Role.parse(settings.auth_anonymous_role)
    rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst) \
        if settings.rate_limit_per_second > 0 else None
    return Security(
        tokens=TokenRegistry(entries),
        anonymous_role=anonymous_role,
        certificate_roles=dict(certificate_roles(settings.tls_client_roles)),
        rate_limiter=rate_limiter,
        reflection_access=reflection_access(settings),
        tls=load_tls(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file),
        admin_token_file=admin_file,
        limits=settings.section(Limits),
    )

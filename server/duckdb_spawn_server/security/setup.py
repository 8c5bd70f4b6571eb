"""Builds the security pieces from Settings: interceptors, TLS material, reflection mode.

The composition root (app.py) calls `build_security` once; everything here
fails fast with a ConfigError naming the variable at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from ..api.access_policy import AccessPolicy
from ..api.auth import Authenticator, AuthInterceptor
from ..api.concurrency import ConcurrencyLimit
from ..api.request_limits import RequestLimits
from ..config import Settings
from ..domain.access import Role
from ..domain.limits import Limits
from ..domain.rate_limit import RateLimiter
from ..observability.audit import AuditLog
from .tls import TlsMaterial, certificate_roles, load_tls
from .tokens import TokenEntry, TokenRegistry, ensure_admin_token, load_tokens_file

ADMIN_TOKEN_FILE_NAME = "admin.token"


@dataclass(frozen=True)
class Security:
    concurrency: ConcurrencyLimit     # first: refuses before any other work
    auth: AuthInterceptor             # authentication, roles, rate limit, audit
    request_limits: RequestLimits     # after auth: strangers learn nothing about limits
    tls: TlsMaterial | None
    reflection_enabled: bool
    admin_token_file: Path | None     # the generated admin token, when no tokens file is configured
    limits: Limits

    def interceptors_after_drain(self) -> list[grpc.ServerInterceptor]:
        return [self.auth, self.request_limits]


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_attributes=settings.max_attributes,
        max_attribute_bytes=settings.max_attribute_bytes,
        max_filter_length=settings.max_filter_length,
        max_filter_terms=settings.max_filter_terms,
        max_order_by_length=settings.max_order_by_length,
        max_page_size=settings.max_page_size,
        max_batch_size=settings.max_batch_size,
        max_import_rows_per_message=settings.max_import_rows_per_message,
        max_import_rows=settings.max_import_rows,
    )


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
    authenticator = Authenticator(TokenRegistry(entries), anonymous_role=anonymous_role,
                                  certificate_roles=certificate_roles(settings.tls_client_roles))
    rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst) \
        if settings.rate_limit_per_second > 0 else None
    limits = limits_from(settings)
    return Security(
        concurrency=ConcurrencyLimit(settings.grpc_max_concurrent_rpcs),
        auth=AuthInterceptor(authenticator, AccessPolicy(reflection_access(settings)), AuditLog(), rate_limiter),
        request_limits=RequestLimits(limits, settings.grpc_max_message_bytes),
        tls=load_tls(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file),
        reflection_enabled=settings.grpc_reflection != "off",
        admin_token_file=admin_file,
        limits=limits,
    )

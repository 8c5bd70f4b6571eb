"""Authentication, authorisation, rate limiting and the audit trail, around every RPC.

Who is calling: a bearer token in the `authorization` metadata (checked
against the token registry), else a verified client certificate whose
common name maps to a role (mutual TLS), else the anonymous caller, whose
role is AUTH_ANONYMOUS_ROLE (none when AUTH_REQUIRED). A token that is
presented but wrong is refused outright, never downgraded to anonymous.

Health checks are not guarded (the pipeline skips them). Open reflection
still refuses a wrong token.

What they may do: `AccessPolicy`. Callers without credentials are answered
UNAUTHENTICATED (credentials would help), known callers whose role is too
low PERMISSION_DENIED. Then the optional per-principal rate limit.

Every denied call and every call that needs the admin role is written to
the audit log with its outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from ..domain.access import Principal, Role, Via, anonymous
from ..domain.errors import DomainError, PermissionDenied, Unauthenticated
from ..domain.rate_limit import RateLimiter
from ..observability.audit import AuditLog, AuditRecord
from ..security.tokens import TokenRegistry
from .access_policy import Access, AccessPolicy, split_method
from .errors import code_for

_BEARER = re.compile(r"\s*bearer\s+(\S+)\s*", re.IGNORECASE)
# Who a call is recorded as when its credentials could not be checked (e.g. a wrong token).
_UNAUTHENTICATED = Principal("unauthenticated", None, Via.ANONYMOUS)


class Authenticator:
    def __init__(self, tokens: TokenRegistry, *, anonymous_role: Role | None,
                 certificate_roles: Mapping[str, Role] | None = None) -> None:
        self._tokens = tokens
        self._anonymous = anonymous(anonymous_role)
        self._certificate_roles = dict(certificate_roles or {})

    def authenticate(self, metadata: Iterable[tuple[str, Any]],
                     auth_context: Callable[[], Mapping[str, list[bytes]]]) -> Principal:
        """Who is calling; `auth_context` is asked only when a certificate could name the caller."""
        values = [value for key, value in metadata if key == "authorization"]
        if values:
            return self._from_token(values)
        if self._certificate_roles:
            common_names = auth_context().get("x509_common_name") or []
            if common_names:
                name = common_names[0].decode("utf-8", "replace")
                role = self._certificate_roles.get(name)
                if role is not None:
                    return Principal(f"cn={name}", role, Via.CERTIFICATE)
        return self._anonymous

    def _from_token(self, values: list[Any]) -> Principal:
        if len(values) > 1:
            raise Unauthenticated("send one authorization header, not several", reason="MALFORMED_AUTHORIZATION")
        value = values[0].decode("utf-8", "replace") if isinstance(values[0], bytes) else str(values[0])
        match = _BEARER.fullmatch(value)
        if match is None:
            raise Unauthenticated("the authorization metadata must be 'Bearer <token>'",
                                  reason="MALFORMED_AUTHORIZATION")
        principal = self._tokens.lookup(match.group(1))
        if principal is None:
            raise Unauthenticated("the bearer token is not valid", reason="INVALID_TOKEN")
        return principal


@dataclass(frozen=True)
class GuardedMethod:
    """How one method is guarded, decided before its first call."""

    path: str
    access: Access
    role: Role
    audited: bool  # admin calls are audited whatever their outcome


class CallGuard:
    """Authenticates, authorises and rate-limits each call; audits denials and admin calls."""

    def __init__(self, authenticator: Authenticator, policy: AccessPolicy, audit: AuditLog,
                 rate_limiter: RateLimiter | None = None) -> None:
        self._authenticator = authenticator
        self._policy = policy
        self._audit = audit
        self._rate_limiter = rate_limiter

    def method(self, path: str) -> GuardedMethod:
        access, role = self._policy.access(path)
        return GuardedMethod(path, access, role, access is Access.ROLE and role is Role.ADMIN)

    def admit(self, method: GuardedMethod, context: grpc.aio.ServicerContext, peer: str, request: Any,
              metadata: Iterable[tuple[str, Any]]) -> Principal:
        """The caller, allowed to make this call; raises (and audits) a denial."""
        principal = _UNAUTHENTICATED
        try:
            principal = self._authenticator.authenticate(metadata, context.auth_context)
            _authorize(principal, method.access, method.role, method.path)
            if self._rate_limiter is not None:
                self._rate_limiter.acquire(_bucket_key(principal, peer))
        except DomainError as error:
            self._record(principal, method.path, request, code_for(error).name, error.reason, peer)
            raise
        return principal

    def audit(self, method: GuardedMethod, peer: str, request: Any,
              code: grpc.StatusCode, error: BaseException | None, principal: Principal | None) -> None:
        """The audit line of an admitted admin call (`principal` None: denied, recorded by `admit`)."""
        if principal is None:
            return
        reason = error.reason if isinstance(error, DomainError) else ""
        self._record(principal, method.path, request, code.name, reason, peer)

    def _record(self, principal: Principal, method: str, request: Any, outcome: str, reason: str,
                peer: str) -> None:
        self._audit.record(AuditRecord(principal=principal, method=method, target=audit_target(request),
                                       outcome=outcome, reason=reason, peer=peer or ""))


def _authorize(principal: Principal, access: Access, role: Role, method: str) -> None:
    if access is Access.OPEN:
        return
    if access is Access.AUTHENTICATED:
        if not principal.authenticated:
            raise Unauthenticated("this service needs a bearer token or client certificate",
                                  reason="MISSING_CREDENTIALS")
        return
    if principal.may(role):
        return
    _, name = split_method(method)
    if not principal.authenticated:
        raise Unauthenticated(f"{name} needs the {role.label} role; send 'authorization: Bearer <token>'",
                              reason="MISSING_CREDENTIALS", metadata={"required_role": role.label})
    raise PermissionDenied(f"{principal.name} has the {principal.role_label} role; {name} needs {role.label}",
                           reason="INSUFFICIENT_ROLE",
                           metadata={"required_role": role.label, "role": principal.role_label})


def _bucket_key(principal: Principal, peer: str) -> str:
    """Authenticated callers share a bucket per name; anonymous ones get one per peer address."""
    if principal.authenticated:
        return principal.name
    return f"anonymous@{(peer or '').rsplit(':', 1)[0]}"


def audit_target(request: Any) -> str:
    """The resource a request is about, for the audit log: its name, names, project name or level."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None:
        return ""
    fields = descriptor.fields_by_name
    if "name" in fields:
        return str(request.name)
    if "names" in fields:
        return ",".join(request.names)
    if "project" in fields:
        return str(request.project.name)
    if "level" in fields:
        return f"level={request.level}"
    return ""

"""Domain errors: what went wrong, in terms a caller can act on.

The domain raises these; the API layer alone maps them to gRPC statuses with
`google.rpc` details (see api/errors.py). Messages never contain SQL or
stack traces: they are written for the client.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One broken rule, located by a field path such as `attributes.total_amount`."""

    field: str
    description: str
    reason: str = "INVALID_VALUE"


class DomainError(Exception):
    """Base of every error meant for the client.

    `reason` is an UPPER_SNAKE_CASE constant (AIP-193 ErrorInfo.reason);
    `metadata` holds short, non-sensitive context for ErrorInfo.metadata.
    """

    reason: str = "ERROR"

    def __init__(self, message: str, *, reason: str | None = None,
                 metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(DomainError):
    """The request is malformed; retrying it unchanged will fail again."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, violations: list[FieldViolation] | None = None,
                 reason: str | None = None, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations: list[FieldViolation] = list(violations or [])


class NotFound(DomainError):
    reason = "NOT_FOUND"

    def __init__(self, message: str, *, resource_type: str, resource_name: str,
                 reason: str | None = None) -> None:
        super().__init__(message, reason=reason,
                         metadata={"resource_type": resource_type, "resource_name": resource_name})
        self.resource_type = resource_type
        self.resource_name = resource_name


class AlreadyExists(DomainError):
    reason = "ALREADY_EXISTS"

    def __init__(self, message: str, *, resource_type: str, resource_name: str) -> None:
        super().__init__(message,
                         metadata={"resource_type": resource_type, "resource_name": resource_name})
        self.resource_type = resource_type
        self.resource_name = resource_name


class Aborted(DomainError):
    """A concurrency conflict (stale etag, lost race); the client may re-read and retry."""

    reason = "ABORTED"


class FailedPrecondition(DomainError):
    """The system is not in a state that allows the operation."""

    reason = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, violations: list[FieldViolation] | None = None,
                 reason: str | None = None, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.violations: list[FieldViolation] = list(violations or [])


class Unavailable(DomainError):
    """A transient condition; the client should retry after `retry_after_seconds`."""

    reason = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after_seconds: float = 1.0,
                 reason: str | None = None, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after_seconds = retry_after_seconds


class ResourceExhausted(DomainError):
    """A limit was hit; `limit` names it. `retry_after_seconds` > 0 when waiting helps (rate limits)."""

    reason = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, limit: str, reason: str | None = None,
                 retry_after_seconds: float = 0.0) -> None:
        super().__init__(message, reason=reason, metadata={"limit": limit})
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


class Unauthenticated(DomainError):
    """The caller sent no usable credentials (none where some are needed, or a wrong token)."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    """The caller is known but its role does not allow the method."""

    reason = "PERMISSION_DENIED"


class DeadlineExceeded(DomainError):
    reason = "DEADLINE_EXCEEDED"

"""Rich gRPC errors (AIP-193) decoded into Python exceptions.

The server answers every failure with a `google.rpc.Status` whose details
carry an `ErrorInfo` (reason, domain, metadata) and, depending on the error,
a `BadRequest` (field violations), `PreconditionFailure`, `QuotaFailure` or
`RetryInfo`. `from_rpc_error` turns a `grpc.RpcError` into the exception
class of its status code with all of that decoded, so callers can write
`except NotFoundError` and read `error.reason` or `error.field_violations`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One broken rule of a request: `attributes.total_amount` must be ..."""

    field: str
    description: str
    reason: str = ""


@dataclass(frozen=True)
class PreconditionViolation:
    type: str
    subject: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    subject: str
    description: str


@dataclass
class ErrorDetails:
    """Everything the server put into `google.rpc.Status.details`."""

    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    precondition_violations: list[PreconditionViolation] = field(default_factory=list)
    quota_violations: list[QuotaViolation] = field(default_factory=list)
    retry_delay: timedelta | None = None
    resource_type: str = ""
    resource_name: str = ""
    request_id: str = ""
    help_links: list[str] = field(default_factory=list)
    localized_message: str = ""
    unknown_details: list[str] = field(default_factory=list)


class DuckdbSpawnError(Exception):
    """A failed call. Subclasses name the status code; `code` holds it too."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, details: ErrorDetails | None = None,
                 code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or ErrorDetails()
        if code is not None:
            self.code = code

    @property
    def reason(self) -> str:
        """The ErrorInfo reason, an UPPER_SNAKE_CASE constant such as `PROJECT_NOT_FOUND`."""
        return self.details.reason

    @property
    def metadata(self) -> dict[str, str]:
        return self.details.metadata

    @property
    def field_violations(self) -> list[FieldViolation]:
        return self.details.field_violations

    @property
    def retry_delay(self) -> timedelta | None:
        return self.details.retry_delay

    @property
    def violations(self) -> dict[str, str]:
        """Field -> reason, for quick checks."""
        return {v.field: v.reason for v in self.field_violations}

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class CancelledError(DuckdbSpawnError):
    code = grpc.StatusCode.CANCELLED


class UnknownError(DuckdbSpawnError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgumentError(DuckdbSpawnError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceededError(DuckdbSpawnError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(DuckdbSpawnError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(DuckdbSpawnError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDeniedError(DuckdbSpawnError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(DuckdbSpawnError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(DuckdbSpawnError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(DuckdbSpawnError):
    """A concurrency conflict, such as a stale etag: re-read and try again."""

    code = grpc.StatusCode.ABORTED


class OutOfRangeError(DuckdbSpawnError):
    code = grpc.StatusCode.OUT_OF_RANGE


class UnimplementedError(DuckdbSpawnError):
    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(DuckdbSpawnError):
    code = grpc.StatusCode.INTERNAL


class UnavailableError(DuckdbSpawnError):
    """The server could not be reached or asked to come back later (retried automatically)."""

    code = grpc.StatusCode.UNAVAILABLE


class DataLossError(DuckdbSpawnError):
    code = grpc.StatusCode.DATA_LOSS


class UnauthenticatedError(DuckdbSpawnError):
    code = grpc.StatusCode.UNAUTHENTICATED


ERROR_CLASSES: dict[grpc.StatusCode, type[DuckdbSpawnError]] = {
    cls.code: cls for cls in (
        CancelledError, UnknownError, InvalidArgumentError, DeadlineExceededError, NotFoundError,
        AlreadyExistsError, PermissionDeniedError, ResourceExhaustedError, FailedPreconditionError,
        AbortedError, OutOfRangeError, UnimplementedError, InternalError, UnavailableError, DataLossError,
        UnauthenticatedError)
}


def from_rpc_error(error: grpc.RpcError) -> DuckdbSpawnError:
    """The exception for a failed call, with every google.rpc detail decoded."""
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    message = (error.details() if callable(getattr(error, "details", None)) else "") or ""
    details = ErrorDetails()
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:  # a malformed status trailer: keep the code and message
        status = None
    if status is not None:
        details = decode_details(status)
    cls = ERROR_CLASSES.get(code, DuckdbSpawnError)
    return cls(message, details, code=code)


_DETAIL_TYPES = {
    name: getattr(error_details_pb2, name)
    for name in ("ErrorInfo", "BadRequest", "RetryInfo", "PreconditionFailure", "QuotaFailure",
                 "ResourceInfo", "RequestInfo", "Help", "LocalizedMessage", "DebugInfo")
}


def decode_details(status: status_pb2.Status) -> ErrorDetails:
    result = ErrorDetails()
    for packed in status.details:
        name = packed.TypeName().rsplit(".", 1)[-1]
        cls = _DETAIL_TYPES.get(name) if packed.TypeName().startswith("google.rpc.") else None
        if cls is None:
            result.unknown_details.append(packed.type_url)
            continue
        message = cls()
        packed.Unpack(message)
        _apply(result, message)
    return result


def _apply(result: ErrorDetails, message: Any) -> None:
    if isinstance(message, error_details_pb2.ErrorInfo):
        result.reason, result.domain = message.reason, message.domain
        result.metadata = dict(message.metadata)
    elif isinstance(message, error_details_pb2.BadRequest):
        result.field_violations += [FieldViolation(v.field, v.description, v.reason)
                                    for v in message.field_violations]
    elif isinstance(message, error_details_pb2.RetryInfo):
        result.retry_delay = message.retry_delay.ToTimedelta()
    elif isinstance(message, error_details_pb2.PreconditionFailure):
        result.precondition_violations += [PreconditionViolation(v.type, v.subject, v.description)
                                           for v in message.violations]
    elif isinstance(message, error_details_pb2.QuotaFailure):
        result.quota_violations += [QuotaViolation(v.subject, v.description) for v in message.violations]
    elif isinstance(message, error_details_pb2.ResourceInfo):
        result.resource_type, result.resource_name = message.resource_type, message.resource_name
    elif isinstance(message, error_details_pb2.RequestInfo):
        result.request_id = message.request_id
    elif isinstance(message, error_details_pb2.Help):
        result.help_links += [link.url for link in message.links]
    elif isinstance(message, error_details_pb2.LocalizedMessage):
        result.localized_message = message.message
    # DebugInfo is deliberately not surfaced: the server never sends stack traces to clients.

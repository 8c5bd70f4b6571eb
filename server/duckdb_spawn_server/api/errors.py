"""Domain errors -> gRPC statuses with `google.rpc` details (AIP-193).

Every error carries `ErrorInfo` (reason, domain, metadata); violations add
`BadRequest` (or `PreconditionFailure`), UNAVAILABLE adds `RetryInfo`,
RESOURCE_EXHAUSTED adds `QuotaFailure`. The message is the domain's, which
never contains SQL or stack traces.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..domain import errors as domain

ERROR_DOMAIN = "duckdbspawn.io"

_CODES: list[tuple[type[domain.DomainError], int]] = [
    (domain.InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (domain.NotFound, code_pb2.NOT_FOUND),
    (domain.AlreadyExists, code_pb2.ALREADY_EXISTS),
    (domain.Aborted, code_pb2.ABORTED),
    (domain.FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (domain.Unavailable, code_pb2.UNAVAILABLE),
    (domain.ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
    (domain.DeadlineExceeded, code_pb2.DEADLINE_EXCEEDED),
    (domain.Unauthenticated, code_pb2.UNAUTHENTICATED),
    (domain.PermissionDenied, code_pb2.PERMISSION_DENIED),
]


def _pack(message) -> any_pb2.Any:  # type: ignore[no-untyped-def]
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


# Status details travel in a trailer, and gRPC clients refuse metadata beyond
# 8 KiB by default (the call then fails with RESOURCE_EXHAUSTED instead of the
# real error). Violations beyond this budget are left out; ErrorInfo says how
# many there were.
MAX_VIOLATION_BYTES = 4096


def _within_budget(violations: list[domain.FieldViolation]) -> list[domain.FieldViolation]:
    kept, used = [], 0
    for violation in violations:
        used += len(violation.field.encode()) + len(violation.description.encode()) + len(violation.reason) + 12
        if used > MAX_VIOLATION_BYTES:
            break
        kept.append(violation)
    return kept


def status_for(error: domain.DomainError) -> grpc.Status:
    code = next((c for cls, c in _CODES if isinstance(error, cls)), code_pb2.UNKNOWN)
    violations = getattr(error, "violations", [])
    metadata = dict(error.metadata)
    shown = _within_budget(violations)
    if len(shown) < len(violations):
        metadata.update(violations_total=str(len(violations)), violations_shown=str(len(shown)))
        violations = shown
    details = [_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=metadata))]
    if isinstance(error, domain.FailedPrecondition) and violations:
        details.append(_pack(error_details_pb2.PreconditionFailure(violations=[
            error_details_pb2.PreconditionFailure.Violation(type=v.reason, subject=v.field,
                                                             description=v.description)
            for v in violations])))
    elif violations:
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description, reason=v.reason)
            for v in violations])))
    if isinstance(error, domain.Unavailable):
        details.append(_pack(_retry_info(error.retry_after_seconds)))
    if isinstance(error, domain.ResourceExhausted):
        details.append(_pack(error_details_pb2.QuotaFailure(violations=[
            error_details_pb2.QuotaFailure.Violation(subject=error.limit, description=error.message)])))
        if error.retry_after_seconds > 0:
            details.append(_pack(_retry_info(error.retry_after_seconds)))
    return rpc_status.to_status(status_pb2.Status(code=code, message=error.message, details=details))


def code_for(error: BaseException) -> grpc.StatusCode:
    """The status code a domain error is answered with (UNKNOWN for anything else)."""
    code = next((c for cls, c in _CODES if isinstance(error, cls)), code_pb2.UNKNOWN)
    return next(s for s in grpc.StatusCode if s.value[0] == code)


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    seconds = max(seconds, 0.0)
    return error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
        seconds=int(seconds), nanos=int((seconds % 1) * 1e9)))


def internal_status(request_id: str = "") -> grpc.Status:
    """For bugs: a generic message; the details go to the server log only."""
    suffix = f" (request id {request_id})" if request_id else ""
    info = error_details_pb2.ErrorInfo(reason="INTERNAL_ERROR", domain=ERROR_DOMAIN,
                                       metadata={"request_id": request_id} if request_id else {})
    return rpc_status.to_status(status_pb2.Status(
        code=code_pb2.INTERNAL, message="internal error; the server log has the details" + suffix,
        details=[_pack(info)]))

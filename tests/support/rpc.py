"""Decoding rich gRPC errors (google.rpc.Status details) in tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass
class RichError:
    code: grpc.StatusCode
    message: str
    error_info: error_details_pb2.ErrorInfo | None = None
    bad_request: error_details_pb2.BadRequest | None = None
    retry_info: error_details_pb2.RetryInfo | None = None
    precondition: error_details_pb2.PreconditionFailure | None = None
    quota: error_details_pb2.QuotaFailure | None = None
    others: list[str] = field(default_factory=list)

    @property
    def violations(self) -> dict[str, str]:
        """field -> reason."""
        if self.bad_request is None:
            return {}
        return {v.field: v.reason for v in self.bad_request.field_violations}


def rich_error(error: grpc.RpcError) -> RichError:
    result = RichError(error.code(), error.details() or "")
    status = rpc_status.from_call(error)
    if status is None:
        return result
    kinds = {
        "ErrorInfo": (error_details_pb2.ErrorInfo, "error_info"),
        "BadRequest": (error_details_pb2.BadRequest, "bad_request"),
        "RetryInfo": (error_details_pb2.RetryInfo, "retry_info"),
        "PreconditionFailure": (error_details_pb2.PreconditionFailure, "precondition"),
        "QuotaFailure": (error_details_pb2.QuotaFailure, "quota"),
    }
    for detail in status.details:
        for cls, attr in kinds.values():
            if detail.Is(cls.DESCRIPTOR):
                message = cls()
                detail.Unpack(message)
                setattr(result, attr, message)
                break
        else:
            result.others.append(detail.type_url)
    return result


def call_error(fn, *args, **kwargs) -> RichError:  # type: ignore[no-untyped-def]
    """Calls an RPC that must fail and returns its decoded error."""
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as error:
        return rich_error(error)
    raise AssertionError("the call was expected to fail but succeeded")


def valid_attributes(**overrides: object) -> dict[str, object]:
    """A valid set of attributes for the mock `projects` schema."""
    attributes: dict[str, object] = {
        "project_name": "Solar farm",
        "description": "120 MW photovoltaic plant",
        "total_amount": "1250000.50",
        "maturity_years": 15,
        "expected_tri": "7.25",
        "dscr": "1.35",
        "status": "ACTIVE",
        "currency_code": "EUR",
    }
    attributes.update(overrides)
    return {k: v for k, v in attributes.items() if v is not ...}


def create_request(**overrides: object) -> pb.CreateProjectRequest:
    request = pb.CreateProjectRequest()
    project_id = overrides.pop("project_id", None)
    request.project.attributes.update(valid_attributes(**overrides))
    if project_id:
        request.project_id = str(project_id)
    return request

"""Input limits that can be judged from the request message alone, before any servicer runs.

Generic by field: any `filter` or `order_by` is checked for length (and the
filter for its number of terms); any `page_size` above MAX_PAGE_SIZE is
coerced to it (AIP-158). By message: project attributes (count and bytes
per attribute) in create, update, batch create and imported Struct rows;
the batch size; the rows per import message and per import stream
(counted as the servicer reads the stream). Responses larger than
GRPC_MAX_MESSAGE_BYTES are refused with a message naming that limit
(grpc's own check would answer without details).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pyarrow as pa
from duckdb_spawn.v1 import project_service_pb2 as pb
from google.protobuf import struct_pb2

from ..domain.errors import ResourceExhausted
from ..domain.limits import ImportBudget, Limits
from .handlers import Behavior, Handler, WrappingInterceptor

MESSAGE_SIZE_VARIABLE = "GRPC_MAX_MESSAGE_BYTES"


class RequestLimits(WrappingInterceptor):
    def __init__(self, limits: Limits, max_message_bytes: int) -> None:
        super().__init__()
        self.limits = limits
        self.max_message_bytes = max_message_bytes

    def wrap(self, behavior: Behavior, handler: Handler, method: str) -> Behavior:
        if not method.startswith("/duckdb_spawn."):
            return behavior  # health and reflection carry nothing to limit
        return self._limit(behavior, handler.response_streaming, handler.request_streaming)

    def _limit(self, behavior: Behavior, response_streaming: bool, request_streaming: bool) -> Behavior:
        def admit(request: Any) -> Any:
            if request_streaming:
                return self._stream(request)
            self.check(request)
            return request

        if response_streaming:
            def stream(request: Any, context: grpc.ServicerContext) -> Any:
                for response in behavior(admit(request), context):
                    self._check_response(response)
                    yield response

            return stream

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            response = behavior(admit(request), context)
            self._check_response(response)
            return response

        return unary

    # -- requests ---------------------------------------------------------------------------
    def check(self, request: Any) -> None:
        """Checks (and, for page_size, coerces) one request message."""
        descriptor = getattr(request, "DESCRIPTOR", None)
        if descriptor is None:
            return
        fields = descriptor.fields_by_name
        limits = self.limits
        if "filter" in fields and request.filter:
            limits.check_filter(request.filter)
        if "order_by" in fields and request.order_by:
            limits.check_order_by(request.order_by)
        if "page_size" in fields and request.page_size > limits.max_page_size:
            request.page_size = limits.page_size(request.page_size)
        if isinstance(request, pb.CreateProjectRequest | pb.UpdateProjectRequest):
            self._check_struct(request.project.attributes, "project.attributes")
        elif isinstance(request, pb.BatchCreateProjectsRequest):
            limits.check_batch(len(request.requests))
            for index, entry in enumerate(request.requests):
                self._check_struct(entry.project.attributes, f"requests[{index}].project.attributes")

    def _check_struct(self, struct: struct_pb2.Struct, field_name: str) -> None:
        count = len(struct.fields)
        if count <= self.limits.max_attributes and struct.ByteSize() <= self.limits.max_attribute_bytes:
            return  # no attribute (name and value) can be larger than the whole struct: the common case
        if count > self.limits.max_attributes:  # refuse before measuring every value
            self.limits.check_attributes(dict.fromkeys(struct.fields, 0), field_name)
        self.limits.check_attributes({key: value.ByteSize() for key, value in struct.fields.items()}, field_name)

    def _stream(self, requests: Iterator[Any]) -> Iterator[Any]:
        budget: ImportBudget = self.limits.import_budget()
        row_number = 0
        for request in requests:
            if isinstance(request, pb.ImportProjectsRequest):
                kind = request.WhichOneof("rows")
                if kind == "struct_rows":
                    budget.add(len(request.struct_rows.rows))
                    for row in request.struct_rows.rows:
                        row_number += 1
                        self._check_struct(row, f"rows[{row_number}]")
                elif kind == "arrow_ipc":
                    rows = arrow_row_count(request.arrow_ipc)
                    budget.add(rows)
                    row_number += rows
            yield request

    # -- responses --------------------------------------------------------------------------
    def _check_response(self, response: Any) -> None:
        size = response.ByteSize() if hasattr(response, "ByteSize") else 0
        if size > self.max_message_bytes:
            raise ResourceExhausted(
                f"the response would be {size} bytes, more than {MESSAGE_SIZE_VARIABLE}={self.max_message_bytes}; "
                "ask for less (a smaller page_size, a narrower filter)",
                limit=MESSAGE_SIZE_VARIABLE, reason="RESPONSE_TOO_LARGE")


def arrow_row_count(data: bytes) -> int:
    """Rows in an Arrow IPC stream, read without copying; 0 when unreadable (the servicer reports that)."""
    try:
        with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
            return sum(batch.num_rows for batch in reader)
    except (pa.ArrowException, ValueError, OSError):
        return 0

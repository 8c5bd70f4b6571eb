"""Project messages as wire bytes, built once per version of a project.

A project's message depends only on the record it shows: every write gives
a record a new etag, and a migration changes the schema the record is read
with (its `shape`), so bytes cached by (id, etag, shape) can never be
stale: no invalidation is needed. GetProject and ListProjects
answer with these bytes as they are (the response serializer passes bytes
through), which skips the conversion and serialization a call would
otherwise repeat (~40 µs a project). A list response is assembled from
its projects' bytes, as protobuf's wire format allows.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from duckdb_spawn.v1 import project_service_pb2 as pb

from ..domain.changes import Change, ChangeType
from ..domain.names import project_name
from ..domain.records import ProjectRecord
from .convert import project_to_proto

_PROJECTS_TAG = bytes([pb.ListProjectsResponse.DESCRIPTOR.fields_by_name["projects"].number << 3 | 2])


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def serialize(message: object) -> bytes:
    """The response serializer: bytes pass through, messages are serialized."""
    return message if type(message) is bytes else message.SerializeToString()  # type: ignore[attr-defined]


_EXPORT_FIELDS = pb.ExportProjectsResponse.DESCRIPTOR.fields_by_name
_EXPORT_DATA_TAG = bytes([_EXPORT_FIELDS["data"].number << 3 | 2])  # length-delimited
_EXPORT_ROWS_TAG = bytes([_EXPORT_FIELDS["row_count"].number << 3 | 0])  # varint


def export_chunk(data: bytes, rows: int, read_position: str = "") -> bytes:
    """An ExportProjectsResponse's wire bytes, built where the chunk is made (off the event loop) with
    one copy of `data`, instead of a message object copied in, sized and serialized on the loop."""
    parts = []
    if data:
        parts += (_EXPORT_DATA_TAG, _varint(len(data)), data)
    if rows:
        parts += (_EXPORT_ROWS_TAG, _varint(rows))
    if read_position:
        parts.append(pb.ExportProjectsResponse(read_position=read_position).SerializeToString())
    return b"".join(parts)


_CHANGE_TYPES = {ChangeType.CREATED: pb.ProjectChange.CHANGE_TYPE_CREATED,
                 ChangeType.UPDATED: pb.ProjectChange.CHANGE_TYPE_UPDATED,
                 ChangeType.DELETED: pb.ProjectChange.CHANGE_TYPE_DELETED}


class ProjectWire:
    def __init__(self, max_entries: int = 50_000) -> None:
        self._max = max_entries
        self._lock = threading.Lock()
        self._bytes: dict[tuple[uuid.UUID, str, str], bytes] = {}

    def project(self, record: ProjectRecord) -> bytes:
        key = (record.project_id, record.etag, record.shape)
        found = self._bytes.get(key)
        if found is None:
            found = project_to_proto(record).SerializeToString()
            if self._max and record.shape:
                with self._lock:
                    self._bytes[key] = found
                    if len(self._bytes) > self._max:
                        del self._bytes[next(iter(self._bytes))]
        return found

    def list_response(self, records: Sequence[ProjectRecord], next_page_token: str, total_size: int,
                      read_position: str = "") -> bytes:
        head = pb.ListProjectsResponse(next_page_token=next_page_token, total_size=total_size,
                                       read_position=read_position).SerializeToString()
        parts = [head]
        for record in records:
            data = self.project(record)
            parts += (_PROJECTS_TAG, _varint(len(data)), data)
        return b"".join(parts)

    def change(self, change: Change, position: str) -> pb.ProjectChange:
        message = pb.ProjectChange(change_type=_CHANGE_TYPES[change.change_type], position=position)
        message.commit_time.FromDatetime(change.commit_time)
        if change.record is not None:
            message.project.MergeFromString(self.project(change.record))
        else:
            message.project.name = project_name(change.project_id)
            message.project.etag = change.etag
        return message

"""Domain records -> protobuf: exact timestamps and every attribute in its wire form."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from duckdb_spawn_server.api.convert import fill_struct, project_to_proto, timestamp
from duckdb_spawn_server.domain.records import ProjectRecord
from google.protobuf import struct_pb2, timestamp_pb2


@pytest.mark.parametrize("moment", [
    datetime(1970, 1, 1),
    datetime(2026, 11, 30, 8, 27, 38, 123456),
    datetime(1969, 12, 31, 23, 59, 59, 999999),
    datetime(1, 1, 1),
    datetime(9999, 12, 31, 23, 59, 59, 999999),
    datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=-5))),
])
def test_timestamps_match_protobufs_own_conversion(moment: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)
    assert timestamp(moment) == expected


def test_struct_holds_each_value_in_its_wire_form() -> None:
    some_id = uuid.uuid4()
    struct = struct_pb2.Struct()
    fill_struct(struct, {"text": "a", "amount": Decimal("1250000.50"), "years": 15, "big": 2**60, "flag": False,
                         "nothing": None, "day": date(2026, 1, 2), "when": datetime(2026, 1, 2, 3, 4, 5),
                         "id": some_id, "ratio": 0.5})
    assert dict(struct.items()) == {
        "text": "a", "amount": "1250000.50", "years": 15.0, "big": str(2**60), "flag": False, "nothing": None,
        "day": "2026-01-02", "when": "2026-01-02T03:04:05Z", "id": str(some_id), "ratio": 0.5}
    assert struct.fields["flag"].WhichOneof("kind") == "bool_value"
    assert struct.fields["nothing"].WhichOneof("kind") == "null_value"


def test_project_to_proto_carries_name_times_and_attributes() -> None:
    project_id = uuid.uuid4()
    created = datetime(2026, 1, 2, 3, 4, 5, 6)
    record = ProjectRecord(project_id, {"project_name": "Solar", "total_amount": Decimal("7.25")}, created,
                           created + timedelta(seconds=1), "etag1", "1.0.0")
    project = project_to_proto(record)
    assert project.name == f"projects/{project_id}"
    assert project.create_time.ToDatetime() == created
    assert project.update_time.ToDatetime() == created + timedelta(seconds=1)
    assert (project.etag, project.schema_version) == ("etag1", "1.0.0")
    assert dict(project.attributes.items()) == {"project_name": "Solar", "total_amount": "7.25"}

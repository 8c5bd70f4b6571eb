"""Security building blocks on their own: tokens file, lookup, limits, filter terms, rate limiter, policy."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path

import pytest
from duckdb_spawn_server.api.access_policy import Access, AccessPolicy, build_method_roles
from duckdb_spawn_server.config import ConfigError, load_settings
from duckdb_spawn_server.domain.access import Role
from duckdb_spawn_server.domain.errors import InvalidArgument, ResourceExhausted
from duckdb_spawn_server.domain.limits import Limits, count_filter_terms
from duckdb_spawn_server.domain.names import parse_project_name, parse_uuid
from duckdb_spawn_server.domain.rate_limit import RateLimiter
from duckdb_spawn_server.security.tokens import TokenEntry, TokenRegistry, digest, load_tokens_file

TOKEN = "a-sufficiently-long-token"


def tokens_file(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_tokens_file_accepts_tokens_and_hashes_and_keeps_only_hashes(tmp_path: Path) -> None:
    entries = load_tokens_file(tokens_file(tmp_path, {"tokens": [
        {"name": "a", "role": "reader", "token": TOKEN},
        {"name": "b", "role": "ADMIN", "sha256": hashlib.sha256(b"another-long-token-xx").hexdigest()},
    ]}))
    assert entries == [TokenEntry("a", Role.READER, digest(TOKEN)),
                       TokenEntry("b", Role.ADMIN, hashlib.sha256(b"another-long-token-xx").digest())]
    assert all(TOKEN not in repr(e) for e in entries)
    registry = TokenRegistry(entries)
    assert registry.lookup(TOKEN).name == "a"
    assert registry.lookup("another-long-token-xx").role == Role.ADMIN
    for wrong in ("", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        assert registry.lookup(wrong) is None


@pytest.mark.parametrize(("document", "message"), [
    ("not json", "not valid JSON"),
    ({"token": []}, "expected a JSON object"),
    ({"tokens": ["x"]}, r"tokens\[0\] must be an object"),
    ({"tokens": [{"name": "a", "role": "root", "token": TOKEN}]}, "unknown role 'root'"),
    ({"tokens": [{"name": "a", "role": "reader", "token": "short"}]}, "at least 16"),
    ({"tokens": [{"name": "a", "role": "reader"}]}, "exactly one of token and sha256"),
    ({"tokens": [{"name": "a", "role": "reader", "token": TOKEN, "sha256": "00" * 32}]}, "exactly one"),
    ({"tokens": [{"name": "a", "role": "reader", "sha256": "xyz"}]}, "64 hexadecimal"),
    ({"tokens": [{"name": "", "role": "reader", "token": TOKEN}]}, "name must be"),
    ({"tokens": [{"name": "a", "role": "reader", "token": TOKEN, "extra": 1}]}, "unknown keys: extra"),
    ({"tokens": [{"name": "a", "role": "reader", "token": TOKEN},
                 {"name": "a", "role": "writer", "token": TOKEN + "2"}]}, "unique; repeated: a"),
    ({"tokens": [{"name": "a", "role": "reader", "token": TOKEN},
                 {"name": "b", "role": "writer", "token": TOKEN}]}, "listed twice"),
])
def test_bad_tokens_files_name_the_variable_and_the_entry(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(ConfigError, match="AUTH_TOKENS_FILE") as caught:
        load_tokens_file(tokens_file(tmp_path, document))
    assert re.search(message, str(caught.value)), str(caught.value)


def test_missing_tokens_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_tokens_file(tmp_path / "absent.json")


@pytest.mark.parametrize(("text", "terms"), [
    ("", 0), ("a = 1", 1), ("a=1 AND b=2", 2), ("a = 1 OR (b:x AND NOT c > 3)", 3), ("-a:1 b", 2),
    ('name = "x = 1 AND y = 2"', 1), ("'unterminated AND x = 1", 1), ("Solar", 1), ("a.b.c >= 2024-01-01", 1),
    ("a = 1 " * 60, 60),
])
def test_filter_terms_are_counted_outside_strings(text: str, terms: int) -> None:
    assert count_filter_terms(text) == terms


def test_limits_refuse_with_the_variable_named() -> None:
    limits = Limits(max_filter_length=10, max_filter_terms=2, max_attributes=2, max_attribute_bytes=20,
                    max_page_size=5, max_batch_size=1, max_import_rows_per_message=2, max_import_rows=3)
    with pytest.raises(InvalidArgument, match="MAX_FILTER_LENGTH"):
        limits.check_filter("x" * 11)
    with pytest.raises(InvalidArgument, match="MAX_FILTER_TERMS"):
        limits.check_filter("a=1 b c")
    limits.check_filter("a=1 AND b")
    with pytest.raises(InvalidArgument, match="MAX_ATTRIBUTES"):
        limits.check_attribute_values({"a": 1, "b": 2, "c": 3})
    with pytest.raises(InvalidArgument, match="MAX_ATTRIBUTE_BYTES") as caught:
        limits.check_attribute_values({"a": "x" * 20, "bb": "y" * 18})  # 21 and 20 bytes
    assert [v.field for v in caught.value.violations] == ["attributes.a"]
    assert limits.page_size(1000) == 5 and limits.page_size(3) == 3
    with pytest.raises(InvalidArgument, match="MAX_BATCH_SIZE"):
        limits.check_batch(2)


def test_import_stream_caps() -> None:
    budget = Limits(max_import_rows_per_message=2, max_import_rows=3).import_budget()
    budget.add(2)
    with pytest.raises(InvalidArgument, match="MAX_IMPORT_ROWS_PER_MESSAGE"):
        budget.add(3)
    budget.add(1)
    with pytest.raises(ResourceExhausted, match="MAX_IMPORT_ROWS") as caught:
        budget.add(1)
    assert caught.value.limit == "MAX_IMPORT_ROWS"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("a")
    with pytest.raises(ResourceExhausted) as caught:
        limiter.acquire("a")
    assert caught.value.limit == "RATE_LIMIT_PER_SECOND" and caught.value.retry_after_seconds == pytest.approx(0.5)
    limiter.acquire("b")  # another principal has its own bucket
    clock.now += 0.5
    limiter.acquire("a")  # one token refilled
    with pytest.raises(ResourceExhausted):
        limiter.acquire("a")
    clock.now += 100
    for _ in range(3):  # refills up to the burst, not beyond
        limiter.acquire("a")
    with pytest.raises(ResourceExhausted):
        limiter.acquire("a")


def test_rate_limiter_forgets_idle_principals() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, max_principals=10)
    for i in range(10):
        limiter.acquire(f"p{i}")
    clock.now += 5  # all full again
    limiter.acquire("new")
    assert len(limiter._buckets) == 1


def test_access_policy_fails_closed_and_keeps_probes_open() -> None:
    policy = AccessPolicy()
    assert policy.access("/grpc.health.v1.Health/Check")[0] is Access.OPEN
    assert policy.access("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")[0] is Access.OPEN
    assert AccessPolicy("authenticated").access(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")[0] is Access.AUTHENTICATED
    assert policy.access("/duckdb_spawn.v1.ProjectService/SomethingNew") == (Access.ROLE, Role.ADMIN)
    assert policy.access("/duckdb_spawn.v1.ProjectService/ListProjects") == (Access.ROLE, Role.READER)


def test_a_method_without_a_role_is_an_error() -> None:
    from duckdb_spawn.v1 import project_service_pb2
    from google.protobuf import descriptor_pb2, descriptor_pool

    pool = descriptor_pool.DescriptorPool()  # the contract plus one RPC nobody gave a role
    for dependency in project_service_pb2.DESCRIPTOR.dependencies:
        _add_with_dependencies(pool, dependency)
    proto = descriptor_pb2.FileDescriptorProto()
    project_service_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.service[0].method.add(name="PurgeEverything", input_type=".duckdb_spawn.v1.GetProjectRequest",
                                output_type=".duckdb_spawn.v1.Project")
    pool.Add(proto)
    service = pool.FindServiceByName("duckdb_spawn.v1.ProjectService")
    with pytest.raises(LookupError, match="ProjectService/PurgeEverything"):
        build_method_roles((service,))


def _add_with_dependencies(pool, file) -> None:  # type: ignore[no-untyped-def]
    from google.protobuf import descriptor_pb2

    try:
        pool.FindFileByName(file.name)
        return
    except KeyError:
        pass
    for dependency in file.dependencies:
        _add_with_dependencies(pool, dependency)
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    pool.Add(proto)


def test_uuids_in_names_are_canonical_only() -> None:
    canonical = "3f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b"
    assert parse_uuid(canonical) == uuid.UUID(canonical)
    assert parse_uuid(canonical.upper()) == uuid.UUID(canonical)
    for alias in ["３f2b8c1e-4d5a-4e6f-8a7b-9c0d1e2f3a4b", "{" + canonical + "}", "urn:uuid:" + canonical,
                  canonical.replace("-", ""), canonical + "\n", " " + canonical]:
        assert parse_uuid(alias) is None, alias
        with pytest.raises(InvalidArgument):
            parse_project_name("projects/" + alias)


@pytest.mark.parametrize(("name", "value"), [
    ("AUTH_REQUIRED", "maybe"), ("AUTH_ANONYMOUS_ROLE", "admin"), ("GRPC_REFLECTION", "closed"),
    ("TLS_CLIENT_ROLES", "app"), ("GRPC_MAX_MESSAGE_BYTES", "10"), ("MAX_PAGE_SIZE", "5000"),
    ("MAX_FILTER_TERMS", "0"), ("RATE_LIMIT_PER_SECOND", "-1"), ("RATE_LIMIT_BURST", "0"),
    # Above what the filter language and BatchCreateProjects accept: the setting could not take effect.
    ("MAX_FILTER_LENGTH", "4097"), ("MAX_FILTER_TERMS", "65"), ("MAX_BATCH_SIZE", "1001"),
])
def test_invalid_security_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_import_streams_have_no_row_cap_by_default() -> None:
    budget = Limits().import_budget()
    for _ in range(101):
        budget.add(10_000)
    assert budget.rows == 1_010_000

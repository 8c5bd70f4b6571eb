"""A service outside the contract, registered on a test server through the same call pipeline.

Its descriptor is built at run time in a private pool (two methods taking
and returning google.protobuf.Empty), so tests can hold calls open or call
a method no policy names, and see what the pipeline does with them.
"""

from __future__ import annotations

from typing import Any

from duckdb_spawn_server.api.server import register
from google.protobuf import descriptor_pb2, descriptor_pool, empty_pb2
from google.protobuf.descriptor import ServiceDescriptor

from tests.support.servers import InProcessServer

_POOL = descriptor_pool.DescriptorPool()
_POOL.AddSerializedFile(empty_pb2.DESCRIPTOR.serialized_pb)


def service(full_name: str, methods: tuple[str, ...]) -> ServiceDescriptor:
    package, _, name = full_name.rpartition(".")
    try:
        return _POOL.FindServiceByName(full_name)
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto(name=f"{full_name}.proto", package=package,
                                              dependency=["google/protobuf/empty.proto"])
    proto = file.service.add(name=name)
    for method in methods:
        proto.method.add(name=method, input_type=".google.protobuf.Empty", output_type=".google.protobuf.Empty")
    _POOL.Add(file)
    return _POOL.FindServiceByName(full_name)


def add_service(server: InProcessServer, full_name: str, servicer: Any) -> None:
    """Registers `servicer` (async methods named like the service's) before `server.start()`."""
    methods = tuple(name for name in dir(servicer) if name[:1].isupper())
    register(server.app.server, server.app.pipeline, service(full_name, methods), servicer)

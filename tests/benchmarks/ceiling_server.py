"""The bare gRPC ceiling of our contract: parse the real request, answer canned bytes of our real response.

Served by grpc's sync server (a thread pool of `--workers`) or by grpc.aio,
so the benchmark can take the faster of the two as its baseline: a change of
runtime can never lower the bar. The canned responses are what our server
answered for the same calls (a real Project, a real page of projects), so
both sides move the same bytes; only our work is missing here.

    python -m tests.benchmarks.ceiling_server --runtime aio --responses FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb

SERVICE = "duckdb_spawn.v1.ProjectService"
REQUESTS = {"CreateProject": pb.CreateProjectRequest, "GetProject": pb.GetProjectRequest,
            "ListProjects": pb.ListProjectsRequest}


def handlers(responses: dict[str, bytes], asynchronous: bool) -> grpc.GenericRpcHandler:
    def behaviour(answer: bytes) -> Any:
        if asynchronous:
            async def handle(request: Any, context: Any) -> bytes:
                return answer
        else:
            def handle(request: Any, context: Any) -> bytes:  # type: ignore[misc]
                return answer
        return handle

    return grpc.method_handlers_generic_handler(SERVICE, {
        method: grpc.unary_unary_rpc_method_handler(behaviour(responses[method]),
                                                    request_deserializer=request.FromString)
        for method, request in REQUESTS.items()})


def load(path: Path) -> dict[str, bytes]:
    return {method: bytes.fromhex(data) for method, data in json.loads(path.read_text()).items()}


def serve_sync(responses: dict[str, bytes], workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handlers(responses, False),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(json.dumps({"message": "serving", "grpc_port": port}), flush=True)
    server.wait_for_termination()


async def serve_aio(responses: dict[str, bytes]) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((handlers(responses, True),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"message": "serving", "grpc_port": port}), flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", choices=("sync", "aio"), required=True)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--responses", type=Path, required=True, help="JSON: method -> response bytes as hex")
    args = parser.parse_args()
    responses = load(args.responses)
    if args.runtime == "sync":
        serve_sync(responses, args.workers)
    else:
        asyncio.run(serve_aio(responses))


if __name__ == "__main__":
    sys.exit(main())

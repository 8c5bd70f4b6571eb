"""A grpc.health.v1 check from the command line, for containers that have no grpcurl.

    python -m duckdb_spawn_server.healthcheck [--service NAME]... [--wait SECONDS] HOST:PORT

Exits 0 when every named service (default: readiness, "") answers SERVING,
1 when one does not by the deadline. The Helm chart's `helm test` pod runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING


def check(target: str, service: str, timeout: float) -> str:
    """One Check call; returns the status name, or the gRPC code name when the call fails."""
    with grpc.insecure_channel(target) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def wait_serving(target: str, service: str, wait: float, timeout: float) -> str:
    """Checks until SERVING or until `wait` seconds have passed; returns the last status."""
    deadline = time.monotonic() + wait
    while True:
        status = check(target, service, timeout)
        if status == "SERVING" or time.monotonic() >= deadline:
            return status
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m duckdb_spawn_server.healthcheck",
                                     description="Check grpc.health.v1 on a duckdb-spawn server.")
    parser.add_argument("target", help="HOST:PORT of the server (plaintext)")
    parser.add_argument("--service", action="append", dest="services",
                        help='health service to check; repeatable (default: readiness, "")')
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to keep retrying until SERVING")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per Check call")
    args = parser.parse_args(argv)
    healthy = True
    for service in args.services or [""]:
        status = wait_serving(args.target, service, args.wait, args.timeout)
        print(f"{args.target} service={service!r}: {status}")
        healthy = healthy and status == "SERVING"
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())

"""The baseline: a bare gRPC echo server with the same contract and thread pool.

CreateProject returns the request's project; GetProject returns a fixed
project of the same shape. It does no validation and no I/O, so the ratio
our-service / echo says what our work costs on top of gRPC itself.
"""

from __future__ import annotations

import argparse
import sys
from concurrent import futures

import grpc
from duckdb_spawn.v1 import project_service_pb2 as pb
from duckdb_spawn.v1 import project_service_pb2_grpc as pb_grpc


class EchoProjects(pb_grpc.ProjectServiceServicer):
    def __init__(self, sample: pb.Project) -> None:
        self._sample = sample

    def CreateProject(self, request: pb.CreateProjectRequest, context: grpc.ServicerContext) -> pb.Project:
        return request.project

    def GetProject(self, request: pb.GetProjectRequest, context: grpc.ServicerContext) -> pb.Project:
        return self._sample


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    sample = pb.Project(name="projects/00000000-0000-0000-0000-000000000000")
    sample.attributes.update({"project_name": "x", "total_amount": "1.00"})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers), options=[("grpc.so_reuseport", 0)])
    pb_grpc.add_ProjectServiceServicer_to_server(EchoProjects(sample), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f'{{"message": "serving", "grpc_port": {port}}}', flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())

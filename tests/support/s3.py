"""A real S3 endpoint for tests: moto's server (PyPI `moto[server]`) in a subprocess on loopback.

A subprocess rather than moto's in-process thread: the service processes under test reach it
over HTTP like any S3, and its request handling does not compete with the test for the GIL.
moto accepts any credentials; the ones here are what the lake's S3 secret is given.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

KEY_ID = "duckdb-spawn-test"
SECRET = "duckdb-spawn-test-secret"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class S3Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        """host:port, as DuckDB's S3 secret takes it (ENDPOINT without a scheme)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=KEY_ID,
                            aws_secret_access_key=SECRET, region_name=REGION)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def duckdb_secret_sql(self, name: str = "lake_s3") -> str:
        """The CREATE SECRET statement for DuckDB's httpfs against this endpoint (values are ours, not input)."""
        return (f"CREATE OR REPLACE SECRET {name} (TYPE s3, KEY_ID '{KEY_ID}', SECRET '{SECRET}', "
                f"ENDPOINT '{self.endpoint}', URL_STYLE 'path', USE_SSL false, REGION '{REGION}')")


@contextmanager
def s3_server(timeout: float = 30) -> Iterator[S3Server]:
    """Starts `python -m moto.server` on a free loopback port; stops it (and its data) on exit."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = S3Server(port=port, process=process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with {process.returncode}")
            try:
                if httpx.get(f"{server.url}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not answer within {timeout}s")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

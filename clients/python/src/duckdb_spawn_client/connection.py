"""Where and how to connect: target, TLS material, bearer token, channel options."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

DEFAULT_TARGET = "localhost:50051"
# Largest message the client receives (the server's default GRPC_MAX_MESSAGE_BYTES).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

# Environment variables read by `ConnectionSettings.from_env` (and so by the CLI).
ENVIRONMENT = {
    "DUCKDB_SPAWN_SERVER": "host:port of the server (default localhost:50051)",
    "DUCKDB_SPAWN_TOKEN": "bearer token sent as `authorization: Bearer <token>`",
    "DUCKDB_SPAWN_TOKEN_FILE": "file holding the bearer token (such as the server's admin.token)",
    "DUCKDB_SPAWN_TLS": "`true` to use TLS (implied by a CA, certificate or key file)",
    "DUCKDB_SPAWN_CA_FILE": "PEM CA bundle to verify the server with (default: the system's roots)",
    "DUCKDB_SPAWN_CERT_FILE": "PEM client certificate, for mutual TLS",
    "DUCKDB_SPAWN_KEY_FILE": "PEM private key of the client certificate",
    "DUCKDB_SPAWN_SERVER_NAME": "name to verify in the server's certificate instead of the target's host",
    "DUCKDB_SPAWN_TIMEOUT": "default deadline of a call in seconds (default 30)",
}


@dataclass(frozen=True)
class ConnectionSettings:
    target: str = DEFAULT_TARGET
    token: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ConnectionSettings:
        env = os.environ if environ is None else environ
        token = env.get("DUCKDB_SPAWN_TOKEN") or None
        if token is None and env.get("DUCKDB_SPAWN_TOKEN_FILE"):
            token = read_token_file(env["DUCKDB_SPAWN_TOKEN_FILE"])
        return cls(
            target=env.get("DUCKDB_SPAWN_SERVER") or DEFAULT_TARGET,
            token=token,
            tls=env.get("DUCKDB_SPAWN_TLS", "").lower() in ("1", "true", "yes"),
            ca_file=env.get("DUCKDB_SPAWN_CA_FILE") or None,
            cert_file=env.get("DUCKDB_SPAWN_CERT_FILE") or None,
            key_file=env.get("DUCKDB_SPAWN_KEY_FILE") or None,
            server_name=env.get("DUCKDB_SPAWN_SERVER_NAME") or None,
        )

    def with_overrides(self, **values: object) -> ConnectionSettings:
        return replace(self, **{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]

    @property
    def uses_tls(self) -> bool:
        return self.tls or any((self.ca_file, self.cert_file, self.key_file))

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def open_channel(self, extra_options: list[tuple[str, object]] | None = None) -> grpc.Channel:
        options: list[tuple[str, object]] = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Reconnect promptly after a server restart: gRPC's default backoff grows to two minutes.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            *(extra_options or []),
        ]
        if not self.uses_tls:
            return grpc.insecure_channel(self.target, options=options)
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("mutual TLS needs both a client certificate and its key")
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file))
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        return grpc.secure_channel(self.target, credentials, options=options)


def read_token_file(path: str) -> str:
    token = Path(path).read_text().strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None

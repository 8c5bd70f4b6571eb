"""Client-side credentials for tests: a channel that sends `authorization: Bearer <token>` on every call."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import grpc


class _Details(namedtuple("_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                                       "compression")), grpc.ClientCallDetails):
    pass


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                  grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _Details(details.method, details.timeout, metadata, details.credentials,
                        details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def with_token(channel: grpc.Channel, token: str | None) -> grpc.Channel:
    """`channel`, sending `token` as a bearer token (unchanged when token is None)."""
    return channel if token is None else grpc.intercept_channel(channel, BearerToken(token))


def bearer(token: str) -> tuple[tuple[str, str]]:
    """Metadata for one call."""
    return (("authorization", f"Bearer {token}"),)


def generated_admin_token(db_path: Path) -> str:
    """The admin token a server without AUTH_TOKENS_FILE generated beside its database."""
    return (db_path.parent / "admin.token").read_text().strip()

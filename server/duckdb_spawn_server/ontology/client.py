"""The ontology server's HTTP API, through one shared httpx client.

`GET {base}/schemas/{id}` (with If-None-Match when an ETag is known) and
`GET {base}/health`. One `httpx.Client` is shared by every caller, so
connections are reused. Each call is bounded by ONTO_SERVER_TIMEOUT, or
less when the caller has less time; the body is read under the same
deadline and refused beyond a size limit. Proxy variables from the
environment are ignored: the service talks to exactly ONTO_SERVER_URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from .formats import MAX_DOCUMENT_BYTES


class OntologyError(Exception):
    """The server could not be reached, or answered with an error; the message is safe to show.

    `outcome` classifies the request for `duckdb_spawn_ontology_requests_total`
    (observability/metrics.py ONTOLOGY_OUTCOMES): http_error, invalid, timeout or unreachable.
    """

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Fetched:
    """One answer for a schema: a new body, or `not_modified` (HTTP 304)."""

    not_modified: bool
    body: bytes
    etag: str


class OntologyClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.Client(
            base_url=self.base_url, timeout=timeout, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
            headers={"Accept": "application/json", "User-Agent": "duckdb-spawn"})

    def _budget(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else max(0.001, min(self.timeout, timeout))

    def fetch_schema(self, schema_id: str, etag: str = "", *, timeout: float | None = None) -> Fetched:
        budget = self._budget(timeout)
        deadline = time.monotonic() + budget
        headers = {"If-None-Match": etag} if etag else {}
        try:
            with self._client.stream("GET", f"/schemas/{quote(schema_id, safe='')}", headers=headers,
                                     timeout=httpx.Timeout(budget)) as response:
                if response.status_code == 304:
                    return Fetched(True, b"", response.headers.get("ETag", etag))
                if response.status_code == 404:
                    raise OntologyError(f"the ontology server has no schema {schema_id!r} (HTTP 404)", "http_error")
                if response.status_code != 200:
                    raise OntologyError(f"the ontology server answered HTTP {response.status_code}", "http_error")
                body = _read_capped(response, deadline)
                return Fetched(False, body, response.headers.get("ETag", ""))
        except httpx.TimeoutException:
            raise OntologyError(f"the ontology server did not answer within {budget:g}s", "timeout") from None
        except httpx.HTTPError as error:
            raise OntologyError(f"cannot reach the ontology server ({type(error).__name__})", "unreachable") from None

    def healthy(self, *, timeout: float | None = None) -> bool:
        try:
            response = self._client.get("/health", timeout=httpx.Timeout(self._budget(timeout)))
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def close(self) -> None:
        self._client.close()


def _read_capped(response: httpx.Response, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise OntologyError(f"the schema document is larger than {MAX_DOCUMENT_BYTES} bytes", "invalid")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("body not read in time")
        chunks.append(chunk)
    return b"".join(chunks)

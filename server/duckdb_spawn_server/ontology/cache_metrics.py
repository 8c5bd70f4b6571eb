"""What the schema cache counts, as a port; observability/schema_metrics.py implements it.

The cache says what happened; the exporter owns metric names and labels
(`ontology_schema_fetches_total`, `ontology_schema_rejections_total`,
`duckdb_spawn_ontology_requests_total{endpoint="schema"}`), so nothing in
ontology/ touches prometheus_client.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class FetchOutcome(StrEnum):
    """What one refresh of a schema came to (a str: the exporter uses it as a label value)."""

    UPDATED = "updated"  # a new version validated and is now in force
    UNCHANGED = "unchanged"  # identical content
    NOT_MODIFIED = "not_modified"  # HTTP 304
    REJECTED = "rejected"  # the document failed validation
    ERROR = "error"  # the fetch failed, or the table could not be prepared


class SchemaCacheMetrics(Protocol):
    def observe_schema_request(self, outcome: str, seconds: float) -> None:
        """One request to the schema endpoint; `outcome` is one of observability/metrics.py ONTOLOGY_OUTCOMES."""
        ...

    def count_schema_fetch(self, schema_id: str, outcome: FetchOutcome) -> None: ...

    def count_schema_rejection(self, schema_id: str) -> None:
        """A fetched document was rejected as invalid (also counted as a fetch, REJECTED)."""
        ...


class NoSchemaCacheMetrics:
    """Counts nothing: for a cache built without an exporter (tests, tools)."""

    def observe_schema_request(self, outcome: str, seconds: float) -> None:
        pass

    def count_schema_fetch(self, schema_id: str, outcome: FetchOutcome) -> None:
        pass

    def count_schema_rejection(self, schema_id: str) -> None:
        pass

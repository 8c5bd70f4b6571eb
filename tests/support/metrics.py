"""Scraping a server's Prometheus /metrics in tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def scrape_text(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    response.raise_for_status()
    return response.text


def scrape(port: int) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(scrape_text(port)) for sample in family.samples]


def exported_names(port: int) -> set[str]:
    """Every metric name a scrape announces: family names (HELP/TYPE) and sample names."""
    names: set[str] = set()
    for family in text_string_to_metric_families(scrape_text(port)):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_count", "_sum"))
        names.update(sample.name for sample in family.samples)
    return names


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None

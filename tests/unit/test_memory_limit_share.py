"""DUCKDB_MEMORY_LIMIT as a share of a size: how the Helm chart hands DuckDB part of the
container's memory limit (the downward API gives the limit, not arithmetic)."""

import pytest
from duckdb_spawn_server.config import ConfigError, load_settings


@pytest.mark.parametrize(("text", "resolved"), [
    ("75% of 2048MiB", "1536MiB"),
    ("100%of 1GiB", "1024MiB"),
    ("50 % OF 1.5GB", "715MiB"),
    ("60% of 6144MiB", "3686MiB"),
    ("2GB", "2GB"),
    ("", ""),
])
def test_a_share_of_a_size_resolves_to_whole_mebibytes(text: str, resolved: str) -> None:
    assert load_settings({"DUCKDB_MEMORY_LIMIT": text}).duckdb_memory_limit == resolved


@pytest.mark.parametrize("text", ["0% of 1GB", "101% of 1GB", "75%", "75% of", "1% of 10KB", "75% of lots",
                                  "-5% of 1GB", "75% of $(CONTAINER_MEMORY_LIMIT_MIB)MiB"])
def test_a_bad_share_names_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="DUCKDB_MEMORY_LIMIT"):
        load_settings({"DUCKDB_MEMORY_LIMIT": text})

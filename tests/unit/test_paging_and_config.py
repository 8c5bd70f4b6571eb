import pytest
from duckdb_spawn_server.config import VARIABLES, ConfigError, load_settings
from duckdb_spawn_server.domain.errors import InvalidArgument
from duckdb_spawn_server.domain.paging import (
    PageCursor,
    decode_page_token,
    encode_page_token,
    query_fingerprint,
)


def test_page_tokens_round_trip_and_are_tied_to_their_query() -> None:
    query = query_fingerprint("projects", "", "")
    token = encode_page_token(PageCursor(query, ("2026-01-01T00:00:00Z", "abc")))
    assert decode_page_token(token, query) == PageCursor(query, ("2026-01-01T00:00:00Z", "abc"))
    with pytest.raises(InvalidArgument) as caught:
        decode_page_token(token, query_fingerprint("projects", "status = 'ACTIVE'", ""))
    assert caught.value.violations[0].field == "page_token"


@pytest.mark.parametrize("token", ["garbage", "!!!", "eyJ2IjoyfQ", "x" * 5000, "e30"])
def test_damaged_page_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        decode_page_token(token, "q")


def test_defaults_load_without_any_environment() -> None:
    settings = load_settings({})
    assert settings.grpc_port == 50051
    assert settings.metrics_port == 9464
    assert settings.duckdb_path == "data_product.db"
    assert settings.use_mock_onto_server is True
    assert settings.onto_server_url == "http://localhost:8001"
    assert settings.onto_server_timeout == 5
    assert settings.onto_schema_ids == ("project_schema",)


@pytest.mark.parametrize(("name", "value"), [
    ("GRPC_PORT", "http"), ("GRPC_PORT", "70000"), ("METRICS_PORT", "-1"), ("ONTO_SERVER_URL", "ftp://x"),
    ("ONTO_SERVER_TIMEOUT", "0"), ("USE_MOCK_ONTO_SERVER", "maybe"), ("LOG_LEVEL", "LOUD"),
    ("DUCKDB_MEMORY_LIMIT", "lots"), ("ONTO_SCHEMA_IDS", "a;b"), ("DUCKDB_PATH", " "),
])
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_every_variable_is_documented_in_the_readme() -> None:
    from tests.support.servers import REPO

    readme = (REPO / "README.md").read_text()
    missing = [v.name for v in VARIABLES if f"`{v.name}`" not in readme]
    assert not missing, f"README does not document {missing}"

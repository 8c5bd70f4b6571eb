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


def test_limits_come_from_the_variables_of_the_same_name() -> None:
    """Limits is built from Settings by field name: every limit has its variable, with the same default,
    and the variable named in refusals is the one that sets it."""
    from dataclasses import fields

    from duckdb_spawn_server.domain.limits import LIMIT_VARIABLES, Limits

    settings = load_settings({})
    declared = {v.name for v in VARIABLES}
    assert set(LIMIT_VARIABLES.values()) <= declared
    assert settings.section(Limits) == Limits()
    tuned = load_settings({"MAX_PAGE_SIZE": "7", "MAX_IMPORT_ROWS": "12"}).section(Limits)
    assert (tuned.max_page_size, tuned.max_import_rows) == (7, 12)
    assert [f.name for f in fields(Limits)] == list(LIMIT_VARIABLES)


def test_help_texts_state_the_ceilings_the_domain_enforces() -> None:
    from duckdb_spawn_server.domain import filter_syntax, limits

    docs = {v.name: v.doc for v in VARIABLES}
    assert f"at most {filter_syntax.MAX_FILTER_LENGTH}" in docs["MAX_FILTER_LENGTH"]
    assert f"at most {filter_syntax.MAX_FILTER_TERMS}" in docs["MAX_FILTER_TERMS"]
    assert f"at most {limits.PAGE_SIZE_CEILING}" in docs["MAX_PAGE_SIZE"]
    with pytest.raises(ConfigError, match="MAX_PAGE_SIZE"):
        load_settings({"MAX_PAGE_SIZE": str(limits.PAGE_SIZE_CEILING + 1)})

import pytest
from duckdb_spawn_server.domain.types import InvalidType, TypeKind, parse_type


@pytest.mark.parametrize(("text", "sql", "kind"), [
    ("UUID", "UUID", TypeKind.UUID),
    ("varchar", "VARCHAR", TypeKind.STRING),
    ("TEXT", "VARCHAR", TypeKind.STRING),
    ("VARCHAR(255)", "VARCHAR(255)", TypeKind.STRING),
    ("CHAR(3)", "CHAR(3)", TypeKind.STRING),
    (" decimal( 20 , 2 ) ", "DECIMAL(20,2)", TypeKind.DECIMAL),
    ("NUMERIC(5,2)", "DECIMAL(5,2)", TypeKind.DECIMAL),
    ("DECIMAL", "DECIMAL(18,3)", TypeKind.DECIMAL),
    ("DECIMAL(10)", "DECIMAL(10,0)", TypeKind.DECIMAL),
    ("INT", "INTEGER", TypeKind.INTEGER),
    ("BIGINT", "BIGINT", TypeKind.INTEGER),
    ("HUGEINT", "HUGEINT", TypeKind.INTEGER),
    ("BOOL", "BOOLEAN", TypeKind.BOOLEAN),
    ("DOUBLE", "DOUBLE", TypeKind.FLOAT),
    ("DATE", "DATE", TypeKind.DATE),
    ("TIMESTAMP", "TIMESTAMP", TypeKind.TIMESTAMP),
])
def test_allowed_types_parse_to_canonical_sql(text: str, sql: str, kind: TypeKind) -> None:
    parsed = parse_type(text)
    assert parsed.sql == sql
    assert parsed.kind is kind


@pytest.mark.parametrize("text", [
    "VARCHAR); DROP TABLE projects; --",
    "BLOB",
    "JSON",
    "INTEGER[]",
    "STRUCT(a INT)",
    "DECIMAL(39,2)",
    "DECIMAL(5,6)",
    "DECIMAL(0,0)",
    "VARCHAR(0)",
    "CHAR(2,1)",
    "INTEGER(4)",
    "TIMESTAMP WITH TIME ZONE",
    "DECIMAL(٢٠,٢)",  # Arabic-Indic digits: int() would read them as DECIMAL(20,2)
    "VARCHAR(１０)",  # full-width
    "",
    "x" * 100,
    None,
    42,
])
def test_everything_else_is_rejected(text: object) -> None:
    with pytest.raises(InvalidType):
        parse_type(text)

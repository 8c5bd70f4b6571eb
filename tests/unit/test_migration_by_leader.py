"""On a lake only the leader applies automatic migrations: another replica waits for it, changing nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from duckdb_spawn_server.domain.errors import Unavailable
from duckdb_spawn_server.domain.migration import TableState, state_of_new_table
from duckdb_spawn_server.domain.table_admin import TableAdmin
from duckdb_spawn_server.ontology.mock import mock_schema


class Store:
    """A table as the previous schema left it; counts what would change it."""

    def __init__(self, state: TableState, leads: bool) -> None:
        self._state, self._leads, self.applied = state, leads, 0

    def state(self, table: str) -> TableState:
        return self._state

    def apply(self, plan: Any, steps: Any, *, timeout: float | None = None) -> TableState:
        self.applied += len(steps)
        return self._state

    def migrates_automatically(self) -> bool:
        return self._leads


def schemas() -> tuple[Any, Any]:
    base = mock_schema("project_schema")
    assert base is not None
    old = replace(base, columns=tuple(c for c in base.columns if c.name != "description"), declared_version="v1")
    return old, replace(base, declared_version="v2")  # v2 adds an optional column: a safe step


@pytest.mark.parametrize("leads", [True, False])
def test_only_the_leader_applies_the_additive_steps(leads: bool) -> None:
    old, new = schemas()
    store = Store(replace(state_of_new_table(old), schema_version=old.version), leads)
    admin = TableAdmin(schemas=None, store=store, schema_ids=["project_schema"])  # type: ignore[arg-type]
    if leads:
        assert admin.prepare("project_schema", old, new).applied_steps
        assert store.applied == 1
    else:
        with pytest.raises(Unavailable) as waiting:
            admin.prepare("project_schema", old, new)
        assert waiting.value.reason == "MIGRATION_BY_LEADER" and store.applied == 0

"""What the CLI prints: readable tables (rich) or JSON (`--json`), and errors on stderr."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from .. import models
from ..errors import DuckdbSpawnError
from ..values import plain_value


def to_plain(value: Any) -> Any:
    """Dataclasses, Decimals, dates ... -> JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return plain_value(value)


def text(value: Any) -> str:
    plain = to_plain(value)
    if plain is None:
        return ""
    if isinstance(plain, (dict, list)):
        return json.dumps(plain, ensure_ascii=False)
    return str(plain)


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(soft_wrap=False)
        self.errors = Console(stderr=True, highlight=False, soft_wrap=True)

    def json(self, value: Any) -> None:
        print(json.dumps(to_plain(value), ensure_ascii=False, indent=2))

    def table(self, title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]],
              caption: str | None = None, keep_first: bool = False) -> None:
        """`keep_first`: never wrap the first column (ids stay copy-pasteable)."""
        table = RichTable(title=title, caption=caption, show_lines=False)
        for index, header in enumerate(headers):
            table.add_column(header, overflow="fold", no_wrap=keep_first and index == 0)
        for row in rows:
            table.add_row(*(text(v) for v in row))
        self.console.print(table)

    def fields(self, title: str, values: dict[str, Any]) -> None:
        """A two-column table of one object's fields."""
        self.table(title, ["field", "value"], list(values.items()))

    def message(self, line: str) -> None:
        if not self.as_json:
            self.console.print(line, highlight=False)

    # -- domain objects ---------------------------------------------------------------

    def project(self, project: models.Project) -> None:
        if self.as_json:
            return self.json(project)
        values: dict[str, Any] = {"name": project.name}
        values.update({f"attributes.{k}": v for k, v in sorted(project.attributes.items())})
        values.update(create_time=project.create_time, update_time=project.update_time, etag=project.etag,
                      schema_version=project.schema_version)
        self.fields(project.name, values)

    def projects(self, projects: Sequence[models.Project], total: int | None, columns: Sequence[str] | None,
                 next_page_token: str = "", read_position: str = "") -> None:
        if self.as_json:
            return self.json({"projects": projects, "total_size": total, "next_page_token": next_page_token,
                              "read_position": read_position})
        names = list(columns) if columns else _attribute_columns(projects)
        rows = [[p.id, *(p.attributes.get(n) for n in names)] for p in projects]
        caption = f"{len(projects)} of {total} projects" if total is not None else f"{len(projects)} projects"
        if next_page_token:
            caption += f"; next page token {next_page_token}"
        self.table(None, ["id", *names], rows, caption, keep_first=True)

    def error(self, error: DuckdbSpawnError) -> None:
        """One clear line, then every field violation; JSON on stdout too with --json."""
        self.errors.print(f"error: {error}", markup=False)
        for v in error.field_violations:
            reason = f" [{v.reason}]" if v.reason else ""
            self.errors.print(f"  - {v.field}: {v.description}{reason}", markup=False)
        for p in error.details.precondition_violations:
            self.errors.print(f"  - {p.subject}: {p.description} [{p.type}]", markup=False)
        for q in error.details.quota_violations:
            self.errors.print(f"  - {q.subject}: {q.description}", markup=False)
        if error.retry_delay is not None:
            self.errors.print(f"  retry after {error.retry_delay.total_seconds():g}s", markup=False)
        if self.as_json:
            self.json({"error": {"code": error.code.name, "reason": error.reason, "message": error.message,
                                 "metadata": error.metadata, "field_violations": error.field_violations}})

    def local_error(self, message: str) -> None:
        self.errors.print(f"error: {message}", markup=False)


# Shown first in listings, when the schema has them; the others follow alphabetically.
_PREFERRED = ["project_name", "status", "total_amount", "currency_code", "maturity_years", "expected_tri", "dscr"]
_HIDDEN = {"project_id", "description", "creation_date", "last_updated"}


def _attribute_columns(projects: Sequence[models.Project]) -> list[str]:
    present: set[str] = set()
    for project in projects:
        present.update(project.attributes)
    preferred = [n for n in _PREFERRED if n in present]
    return preferred + sorted(present - set(preferred) - _HIDDEN)

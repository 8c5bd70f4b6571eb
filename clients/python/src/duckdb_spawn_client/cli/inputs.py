"""Attributes from the command line (`--set name=value`), JSON files, and times (`--read-time`, `--since`)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from ..values import parse_timestamp


def read_json_object(path: str) -> dict[str, Any]:
    """A JSON object from a file (`-` for stdin): the attributes, or a project with an `attributes` key.

    Numbers are read as exact decimals, so `1250000.50` keeps its digits.
    """
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = json.loads(raw, parse_float=Decimal)
    except ValueError as error:
        raise click.UsageError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise click.UsageError(f"{path} must hold a JSON object")
    attributes = document.get("attributes", document)
    if not isinstance(attributes, dict):
        raise click.UsageError(f"{path}: 'attributes' must be a JSON object")
    return attributes


def parse_assignments(assignments: Sequence[str], schema: Callable[[], pa.Schema | None]) -> dict[str, Any]:
    """`name=value` pairs. Text columns take the value as written; other columns read it as JSON
    (so `15`, `1250000.50`, `true`, `null`), falling back to the text when it is not JSON."""
    result: dict[str, Any] = {}
    types: Mapping[str, pa.DataType] | None = None
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{assignment!r} is not name=value", param_hint="--set")
        name = name.strip()
        if types is None:
            arrow = schema()
            types = {f.name: f.type for f in arrow} if arrow is not None else {}
        column_type = types.get(name)
        if column_type is not None and (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
            result[name] = value
            continue
        try:
            result[name] = json.loads(value, parse_float=Decimal)
        except ValueError:
            result[name] = value
    return result


_UNITS = {"ms": timedelta(milliseconds=1), "s": timedelta(seconds=1), "m": timedelta(minutes=1),
          "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_AGO = re.compile(r"^-?\s*((?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+)(?:ago)?$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")


class TimeParam(click.ParamType):
    """A moment: RFC 3339 (`2026-12-06T09:30:00Z`, an offset, or none for UTC), `now`, or a time ago
    (`90s`, `15m`, `2h`, `1d`, `1h30m`; also written `-15m` or `15m ago`). Returns an aware UTC datetime."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip().lower()
        if text == "now":
            return datetime.now(UTC)
        ago = _AGO.match(text)
        if ago:
            return datetime.now(UTC) - sum((float(n) * _UNITS[u] for n, u in _PART.findall(ago.group(1))),
                                           timedelta())
        try:
            return parse_timestamp(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a time: use RFC 3339 (2026-12-06T09:30:00Z), 'now' or a time ago "
                      f"such as 15m, 2h or 1d", param, ctx)


TIME = TimeParam()

"""Input limits: how much one request may ask of the service, and the errors when it asks more.

`Limits` is built from configuration: each field is the environment
variable of the same name upper-cased (`LIMIT_VARIABLES`), which messages
name so an operator knows which knob to turn. The use cases apply them;
code that parses further (the filter parser, the import pipeline) calls the
same checks, e.g. `limits.check_filter_terms(len(parsed_terms))` or
`ImportBudget.add(...)`.

Malformed or oversized *requests* are INVALID_ARGUMENT (retrying them
unchanged cannot help); exhausting a budget that spans a stream is
RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import FieldViolation, InvalidArgument, ResourceExhausted

# The most any configuration may allow: one response or transaction stays a reasonable size.
PAGE_SIZE_CEILING = 1000
DEFAULT_PAGE_SIZE = 50
BATCH_SIZE_CEILING = 1000


@dataclass(frozen=True)
class Limits:
    max_attributes: int = 256
    max_attribute_bytes: int = 64 * 1024
    max_filter_length: int = 2048
    max_filter_terms: int = 50
    max_order_by_length: int = 512
    max_page_size: int = 1000
    max_batch_size: int = 1000
    max_import_rows_per_message: int = 10_000
    max_import_rows: int = 0  # 0: no cap

    # -- filters and ordering ------------------------------------------------------
    def check_filter(self, text: str, field_name: str = "filter") -> None:
        """Length first (cheap), then the number of terms (counted once per distinct filter)."""
        if len(text) > self.max_filter_length:
            raise _too_big(field_name, f"is {len(text)} characters long", "max_filter_length",
                           self.max_filter_length, "FILTER_TOO_LONG")
        self.check_filter_terms(_terms_of(text), field_name)

    def check_filter_terms(self, terms: int, field_name: str = "filter") -> None:
        if terms > self.max_filter_terms:
            raise _too_big(field_name, f"has {terms} terms", "max_filter_terms", self.max_filter_terms,
                           "FILTER_TOO_COMPLEX")

    def check_order_by(self, text: str, field_name: str = "order_by") -> None:
        if len(text) > self.max_order_by_length:
            raise _too_big(field_name, f"is {len(text)} characters long", "max_order_by_length",
                           self.max_order_by_length, "ORDER_BY_TOO_LONG")

    # -- attributes --------------------------------------------------------------------
    def check_attributes(self, sizes: Mapping[str, int], field_name: str = "attributes") -> None:
        """`sizes`: attribute name -> encoded size of its value in bytes.

        An attribute's size is its name's UTF-8 bytes plus its value's. Every
        attribute over the limit is reported at once.
        """
        if len(sizes) > self.max_attributes:
            raise _too_big(field_name, f"has {len(sizes)} attributes", "max_attributes", self.max_attributes,
                           "TOO_MANY_ATTRIBUTES")
        limit = self.max_attribute_bytes
        violations = []
        for key, value_bytes in sizes.items():
            total = len(key.encode("utf-8", "surrogatepass")) + value_bytes
            if total > limit:
                violations.append(FieldViolation(
                    f"{field_name}.{_shown(key)}",
                    f"is {total} bytes; at most {limit} bytes per attribute ({LIMIT_VARIABLES['max_attribute_bytes']})",
                    "ATTRIBUTE_TOO_LARGE"))
        if violations:
            raise InvalidArgument(
                f"{len(violations)} attribute(s) exceed {LIMIT_VARIABLES['max_attribute_bytes']}={limit} bytes",
                violations=violations, reason="ATTRIBUTE_TOO_LARGE",
                metadata={"limit": LIMIT_VARIABLES["max_attribute_bytes"], "value": str(limit)})

    def check_attribute_values(self, attributes: Mapping[str, Any], field_name: str = "attributes") -> None:
        """The same check for plain Python values (as domain code holds them).

        Every create and update runs this, so the common case is settled
        without encoding anything: UTF-8 needs at most 4 bytes a character,
        and scalars at most 32.
        """
        if len(attributes) <= self.max_attributes:
            limit = self.max_attribute_bytes
            for key, value in attributes.items():
                kind = type(value)
                bound = 4 * len(value) if kind is str else 32 if kind in _SCALARS else limit + 1
                if 4 * len(key) + bound > limit:
                    break
            else:
                return
        self.check_attributes({key: value_size(value) for key, value in attributes.items()}, field_name)

    def check_attribute_columns(self, count: int, columns: Mapping[str, Sequence[Any]], first_row: int,
                                missing: Any) -> None:
        """`check_attribute_values` for each row (`rows[N]`) of rows given column by column.

        Settled per column when every value provably fits (text well under
        the limit, scalars); otherwise row by row, so the first offending row
        raises exactly as it would alone. `missing` marks a field a row lacks.
        """
        if len(columns) <= self.max_attributes and all(
                self._column_fits(name, values, missing) for name, values in columns.items()):
            return
        for index in range(count):
            row = {name: values[index] for name, values in columns.items() if values[index] is not missing}
            self.check_attribute_values(row, f"rows[{first_row + index}]")

    def _column_fits(self, name: str, values: Sequence[Any], missing: Any) -> bool:
        """Whether check_attribute_values' own bound (4 bytes a character, 32 a scalar) passes every value."""
        kinds = set(map(type, values))
        only_text = kinds == {str}
        kinds.discard(type(missing))
        if not kinds <= _SCALARS | {str}:
            return False
        room = self.max_attribute_bytes - 4 * len(name)
        if str in kinds:
            texts = values if only_text else [value for value in values if type(value) is str]
            if 4 * max(map(len, texts), default=0) > room:
                return False
        return kinds <= {str} or 32 <= room

    # -- paging and batches -----------------------------------------------------------
    def page_size(self, requested: int) -> int:
        """AIP-158: 0 is the default, a negative size is invalid, one above the maximum is served as
        the maximum (coerced, not refused)."""
        if requested < 0:
            raise InvalidArgument(
                "page_size must not be negative",
                violations=[FieldViolation("page_size", "must be 0 (default) or positive", "INVALID_PAGE_SIZE")],
                reason="INVALID_PAGE_SIZE")
        return min(requested or DEFAULT_PAGE_SIZE, self.max_page_size)

    def check_batch(self, count: int, field_name: str = "requests") -> None:
        """A batch holds 1 to max_batch_size requests."""
        if not count:
            description = "must hold at least 1 request"
            raise InvalidArgument(f"{field_name} {description}",
                                  violations=[FieldViolation(field_name, description, "INVALID_BATCH_SIZE")],
                                  reason="INVALID_BATCH_SIZE")
        if count > self.max_batch_size:
            raise _too_big(field_name, f"has {count} entries", "max_batch_size", self.max_batch_size,
                           "BATCH_TOO_LARGE")

    def import_budget(self) -> ImportBudget:
        return ImportBudget(self)


# Limit -> the environment variable that sets it (config.py declares it under the same name), named in messages.
LIMIT_VARIABLES = {f.name: f.name.upper() for f in fields(Limits)}


@dataclass
class ImportBudget:
    """Counts the rows of one import stream against the per-message and per-stream caps."""

    limits: Limits
    rows: int = 0
    messages: int = field(default=0)

    def add(self, row_count: int) -> None:
        """Call once per stream message with its number of rows, before processing them."""
        self.messages += 1
        per_message = self.limits.max_import_rows_per_message
        if row_count > per_message:
            raise _too_big(f"messages[{self.messages}].rows", f"has {row_count} rows",
                           "max_import_rows_per_message", per_message, "IMPORT_MESSAGE_TOO_LARGE")
        self.rows += row_count
        if self.limits.max_import_rows and self.rows > self.limits.max_import_rows:
            variable = LIMIT_VARIABLES["max_import_rows"]
            raise ResourceExhausted(
                f"the import stream sent more than {self.limits.max_import_rows} rows ({variable}); "
                "split it into several imports", limit=variable, reason="IMPORT_TOO_LARGE")


_SCALARS = frozenset({float, bool, type(None)})  # a float's JSON text is at most 24 bytes


# -- filter terms ---------------------------------------------------------------------------
_TOKENS = re.compile(r"""
      \s+
    | "(?:[^"\\]|\\.)*"?          # double-quoted string (an unterminated one runs to the end)
    | '(?:[^'\\]|\\.)*'?          # single-quoted string
    | <=|>=|!=|=|<|>|:            # comparators
    | [()]
    | [^\s()"'<>=!:]+             # names, numbers, keywords
    | .                           # anything else, one character at a time
""", re.VERBOSE | re.DOTALL)
_COMPARATORS = frozenset({"<=", ">=", "!=", "=", "<", ">", ":"})
_CONNECTIVES = frozenset({"AND", "OR", "NOT", "(", ")", "-"})


def count_filter_terms(text: str) -> int:
    """The number of restrictions in an AIP-160 filter (`a = 1`, `b:x`, or a bare value).

    A cheap upper bound that needs no full parse, so a huge filter is refused
    before any parser works on it. Connectives (AND, OR, NOT, `-`, brackets)
    are not terms; a name followed by a comparator and its value is one.
    """
    tokens = [t for t in _TOKENS.findall(text) if not t.isspace()]
    terms = 0
    index = 0
    while index < len(tokens):
        if tokens[index] in _CONNECTIVES:
            index += 1
            continue
        terms += 1
        index += 3 if index + 1 < len(tokens) and tokens[index + 1] in _COMPARATORS else 1
    return terms


@functools.lru_cache(maxsize=512)
def _terms_of(text: str) -> int:
    return count_filter_terms(text)


def value_size(value: Any) -> int:
    """Bytes of a plain value as JSON text (strings: their UTF-8 bytes)."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    return len(json.dumps(value, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _too_big(field_name: str, what: str, limit_field: str, limit: int, reason: str) -> InvalidArgument:
    variable = LIMIT_VARIABLES[limit_field]
    description = f"{what}; at most {limit} allowed ({variable})"
    return InvalidArgument(f"{field_name} {description}", reason=reason,
                           violations=[FieldViolation(field_name, description, reason)],
                           metadata={"limit": variable, "value": str(limit)})


def _shown(key: str) -> str:
    return key if len(key) <= 64 else key[:61] + "..."

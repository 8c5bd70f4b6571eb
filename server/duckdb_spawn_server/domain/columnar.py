"""Bulk validation: rows in (Structs or Arrow), typed Arrow tables of valid rows out.

The Python validator (domain/validation.py) is the single source of truth
for what a valid value is. For Arrow input, each column is first checked
with vectorised Arrow kernels that can only *prove* values valid (a decimal
string of the right shape, an integer in range, a value in the enum ...);
the rows they cannot prove valid, a small minority in practice, go through
the Python validator one value at a time, which gives exactly the errors a
single CreateProject would. So the fast path changes speed, never verdicts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .errors import FieldViolation, InvalidArgument
from .patterns import anchored, compile_pattern
from .schema import Column, TableSchema
from .types import ColumnType, TypeKind
from .validation import AttributeValidator, CompiledColumn
from .values import ValueProblem

_INTEGER_ARROW = {
    "TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
    "UTINYINT": pa.uint8(), "USMALLINT": pa.uint16(), "UINTEGER": pa.uint32(), "UBIGINT": pa.uint64(),
    # As decimal text: 39 digits do not fit decimal128's 38, and DuckDB casts the text exactly.
    "HUGEINT": pa.string(),
}
_UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Arrow's match_substring_regex is RE2 as well, so one anchored call proves a whole column with
# the same syntax and the same linear time. Its RE2 is a separate build, though, whose Unicode
# tables may be older or newer: patterns that consult them (\p classes, case folding) are
# matched value by value with the RE2 the single-row validator uses, so verdicts cannot differ.
_UNICODE_TABLES = re.compile(r"\\[pP]|\(\?[a-zA-Z-]*i")


def arrow_type(ctype: ColumnType) -> pa.DataType:
    """The Arrow type a column's values travel in on their way into DuckDB."""
    kind = ctype.kind
    if kind is TypeKind.INTEGER:
        return _INTEGER_ARROW[ctype.name]
    if kind is TypeKind.DECIMAL:
        return pa.decimal128(ctype.precision or 18, ctype.scale or 0)
    if kind is TypeKind.FLOAT:
        return pa.float32() if ctype.name == "REAL" else pa.float64()
    if kind is TypeKind.BOOLEAN:
        return pa.bool_()
    if kind is TypeKind.DATE:
        return pa.date32()
    if kind is TypeKind.TIMESTAMP:
        return pa.timestamp("us")
    return pa.string()  # STRING, and UUID (DuckDB casts the canonical text)


def arrow_value(ctype: ColumnType, value: Any) -> Any:
    """A typed Python value in the form pyarrow accepts for `arrow_type(ctype)`."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if ctype.name == "HUGEINT" and isinstance(value, int):
        return str(value)
    return value


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a field a row does not have (null is None)


@dataclass
class RowError:
    row_number: int  # 1-based, across the whole stream
    violations: list[FieldViolation]


@dataclass
class ValidatedRows:
    received: int
    valid: pa.Table  # the valid rows, data columns in target types
    errors: list[RowError] = field(default_factory=list)


class ColumnarValidator:
    """Validates batches of rows for one schema version."""

    def __init__(self, schema: TableSchema, validator: AttributeValidator) -> None:
        self.schema = schema
        self.validator = validator
        self.columns = schema.data_columns
        self.arrow_schema = pa.schema([(c.name, arrow_type(c.type)) for c in self.columns])
        self._ignored = frozenset(c.name for c in schema.columns if c.system_managed)
        self._patterns = {c.name: _PatternProof(c.pattern) for c in self.columns if c.pattern is not None}

    # -- Structs ------------------------------------------------------------------
    def validate_columns(self, count: int, columns: Mapping[str, list[Any]], first_row: int) -> ValidatedRows:
        """Rows given column by column (`columns[name][i]`, MISSING where row i lacks the field), with
        exactly the verdicts `validate_create` gives row by row (the Struct rows of an import)."""
        problems: dict[int, list[FieldViolation]] = {}
        for name, values in columns.items():
            if self.validator.compiled(name) is None and name not in self._ignored:
                violation = FieldViolation(_printable(name), f"is not a field of schema {self.schema.schema_id}",
                                           "UNKNOWN_FIELD")
                for index, value in enumerate(values):
                    if value is not MISSING:
                        problems.setdefault(index, []).append(violation)
        arrays = []
        for column in self.columns:
            compiled = self.validator.compiled(column.name)
            assert compiled is not None
            values = columns.get(column.name)
            if values is None:
                arrays.append(self._absent(column, count, problems))
                continue
            if MISSING in values:  # a missing field is a null one (its default applies, or REQUIRED)
                values = [None if value is MISSING else value for value in values]
            source = _homogeneous_array(values)
            if source is None:
                arrays.append(self._each(column, compiled, values, problems))
            else:
                arrays.append(self._column(column, compiled, source, problems))
        return self._validated(arrays, problems, count, first_row)

    def _each(self, column: Column, compiled: CompiledColumn, values: list[Any],
              problems: dict[int, list[FieldViolation]]) -> pa.Array:
        """Value by value through the validator (a column mixing types, or holding objects)."""
        typed: list[Any] = []
        for index, value in enumerate(values):
            if value is None:
                if column.default is not None:
                    typed.append(arrow_value(column.type, column.default))
                    continue
                if column.required:
                    problems.setdefault(index, []).append(FieldViolation(column.name, "is required", "REQUIRED"))
                typed.append(None)
                continue
            try:
                typed.append(arrow_value(column.type, compiled.convert(value)))
            except ValueProblem as problem:
                problems.setdefault(index, []).append(FieldViolation(column.name, problem.description,
                                                                     problem.reason))
                typed.append(None)
        return pa.array(typed, type=arrow_type(column.type))

    def to_table(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        arrays = [pa.array([arrow_value(c.type, r.get(c.name)) for r in rows], type=arrow_type(c.type))
                  for c in self.columns]
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema)

    # -- Arrow --------------------------------------------------------------------
    def validate_arrow(self, data: bytes, first_row: int, message_number: int) -> ValidatedRows:
        return self.validate_table(read_ipc(data, message_number), first_row, message_number)

    def validate_table(self, table: pa.Table, first_row: int, message_number: int) -> ValidatedRows:
        self._check_columns(table, message_number)
        count = table.num_rows
        problems: dict[int, list[FieldViolation]] = {}
        arrays = []
        for column in self.columns:
            compiled = self.validator.compiled(column.name)
            assert compiled is not None
            if column.name in table.column_names:
                source = table.column(column.name).combine_chunks()
                arrays.append(self._column(column, compiled, source, problems))
            else:
                arrays.append(self._absent(column, count, problems))
        return self._validated(arrays, problems, count, first_row)

    def _validated(self, arrays: list[pa.Array], problems: dict[int, list[FieldViolation]], count: int,
                   first_row: int) -> ValidatedRows:
        typed = pa.Table.from_arrays(arrays, schema=self.arrow_schema)
        if not problems:
            return ValidatedRows(count, typed)
        bad = sorted(problems)
        keep = pc.invert(pc.is_in(pa.array(range(count), pa.int64()), value_set=pa.array(bad, pa.int64())))
        errors = [RowError(first_row + index, sorted(problems[index], key=lambda v: v.field)) for index in bad]
        return ValidatedRows(count, typed.filter(keep), errors)

    def _check_columns(self, table: pa.Table, message_number: int) -> None:
        names = table.column_names
        for name in names:
            if names.count(name) > 1:
                raise _bad_arrow(message_number, f"column {name[:64]!r} appears twice", "DUPLICATE_COLUMN")
            if self.validator.compiled(name) is None and name not in self._ignored:
                raise _bad_arrow(message_number, f"column {_printable(name)!r} is not a field of schema "
                                                 f"{self.schema.schema_id}", "UNKNOWN_FIELD")

    def _absent(self, column: Column, count: int, problems: dict[int, list[FieldViolation]]) -> pa.Array:
        target = arrow_type(column.type)
        if column.default is not None:
            return pa.array([arrow_value(column.type, column.default)] * count, type=target)
        if column.required:
            for index in range(count):
                problems.setdefault(index, []).append(FieldViolation(column.name, "is required", "REQUIRED"))
        return pa.nulls(count, type=target)

    def _column(self, column: Column, compiled: CompiledColumn, source: pa.Array,
                problems: dict[int, list[FieldViolation]]) -> pa.Array:
        target = arrow_type(column.type)
        is_null = source.is_null()
        typed, proven = self._fast(column, source, target)
        slow = pc.and_(pc.invert(proven), pc.invert(is_null))
        slow_count = pc.sum(slow).as_py() or 0
        if slow_count:
            positions = pc.indices_nonzero(slow).to_pylist()
            replacements = []
            for index in positions:
                try:
                    value = _python_value(source[index])
                    replacements.append(arrow_value(column.type, compiled.convert(value)))
                except ValueProblem as problem:
                    problems.setdefault(index, []).append(FieldViolation(column.name, problem.description,
                                                                         problem.reason))
                    replacements.append(None)
            typed = pc.replace_with_mask(typed, slow, pa.array(replacements, type=target))
        if pc.any(is_null).as_py():
            if column.default is not None:
                default = pa.scalar(arrow_value(column.type, column.default), type=target)
                typed = pc.if_else(is_null, default, typed)
            elif column.required:
                for index in pc.indices_nonzero(is_null).to_pylist():
                    problems.setdefault(index, []).append(FieldViolation(column.name, "is required", "REQUIRED"))
        return typed

    # -- the vectorised proofs ----------------------------------------------------
    def _fast(self, column: Column, source: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
        """(values in `target` type, mask of the rows proven valid); unproven rows are left to Python."""
        try:
            converted = _convert(column.type, source, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
            converted = None
        if converted is None:
            return pa.nulls(len(source), type=target), pa.array([False] * len(source), pa.bool_())
        typed, proven = converted
        proven = self._checks(column, typed, proven)
        return typed, pc.fill_null(proven, _FALSE)

    def _checks(self, column: Column, typed: pa.Array, proven: pa.Array) -> pa.Array:
        if column.enum is not None:
            allowed = pa.array([arrow_value(column.type, v) for v in column.enum], type=typed.type)
            proven = pc.and_(proven, pc.is_in(typed, value_set=allowed))
        kind = column.type.kind
        for bound, above in ((column.minimum, True), (column.maximum, False)):
            if bound is None or kind not in (TypeKind.INTEGER, TypeKind.DECIMAL, TypeKind.FLOAT):
                continue
            proven = pc.and_(proven, _within(typed, bound, above, kind))
        if column.max_length is not None and kind is TypeKind.STRING:
            proven = pc.and_(proven, pc.less_equal(pc.utf8_length(typed), pa.scalar(column.max_length, pa.int32())))
        pattern = self._patterns.get(column.name)
        if pattern is not None:
            proven = pc.and_(proven, pattern.matches(typed))
        return proven


class _PatternProof:
    """Which values of a string column match a column's pattern in full (RE2 either way)."""

    def __init__(self, pattern: str) -> None:
        self._regex = compile_pattern(pattern)
        self._arrow: str | None = None if _UNICODE_TABLES.search(pattern) else anchored(pattern)

    def matches(self, typed: pa.Array) -> pa.Array:
        if self._arrow is not None:
            try:
                return pc.match_substring_regex(typed, self._arrow)
            except pa.ArrowInvalid:  # Arrow's RE2 refuses it (an older syntax): match value by value
                self._arrow = None
        regex = self._regex
        return pa.array([value is not None and regex.fullmatch(value) is not None for value in typed.to_pylist()],
                        pa.bool_())


# A column of one JSON kind converts to Arrow exactly; pyarrow would silently turn a mix such as
# [1.5, True] into doubles, so mixed columns (and objects, lists, Python ints) go value by value.
# Types are given, never inferred: pyarrow's inference tries to import dateutil on every call.
_FALSE = pa.scalar(False, pa.bool_())
_ZERO = pa.scalar(0.0, pa.float64())
_TEXT_ZERO = pa.scalar("0", pa.string())
_HOMOGENEOUS = {frozenset({str}): pa.string(), frozenset({float}): pa.float64(), frozenset({bool}): pa.bool_()}


def _homogeneous_array(values: list[Any]) -> pa.Array | None:
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(values))
    arrow = _HOMOGENEOUS.get(frozenset(kinds))
    return None if arrow is None else pa.array(values, arrow)


def _within(typed: pa.Array, bound: Decimal, above: bool, kind: TypeKind) -> pa.Array:
    """Strictly inside the bound where exactness is in doubt (floats), else inclusive; equality goes to Python."""
    if kind is TypeKind.FLOAT:
        limit: Any = pa.scalar(float(bound), pa.float64())
        return pc.greater(typed, limit) if above else pc.less(typed, limit)
    if kind is TypeKind.INTEGER:
        if bound != bound.to_integral_value():
            limit = pa.scalar(float(bound), pa.float64())
            return pc.greater(typed, limit) if above else pc.less(typed, limit)
        limit = int(bound)
        if -(2**63) <= limit < 2**63:
            limit = pa.scalar(limit, pa.int64())
    else:
        limit = pa.scalar(bound)
    return pc.greater_equal(typed, limit) if above else pc.less_equal(typed, limit)


def _convert(ctype: ColumnType, source: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array] | None:
    """Source values in the target type plus a mask of the ones converted exactly; None: no fast path."""
    stype = source.type
    kind = ctype.kind
    everywhere = pc.invert(source.is_null())
    if pa.types.is_dictionary(stype):
        return None
    is_text = pa.types.is_string(stype) or pa.types.is_large_string(stype)
    if kind is TypeKind.STRING and is_text:
        proven = pc.invert(pc.match_substring(source, "\x00"))
        if ctype.length is not None:
            proven = pc.and_(proven, pc.less_equal(pc.utf8_length(source), pa.scalar(ctype.length, pa.int32())))
        return pc.cast(source, target), proven
    if kind is TypeKind.INTEGER and pa.types.is_floating(stype) and ctype.name != "HUGEINT":
        # JSON numbers (Struct values) are doubles: whole ones up to 2^53 in the type's range are exact.
        low, high = ctype.integer_range or (-(2**63), 2**63 - 1)
        low, high = max(low, -(2**53)), min(high, 2**53)
        whole = pc.equal(pc.floor(source), source)
        proven = pc.fill_null(pc.and_(whole, _between(source, pa.scalar(float(low), stype),
                                                      pa.scalar(float(high), stype))), _FALSE)
        inside = pc.if_else(proven, source, pa.nulls(len(source), stype))
        return pc.cast(inside, target), proven
    if kind is TypeKind.INTEGER and pa.types.is_integer(stype) and ctype.name != "HUGEINT":
        low, high = ctype.integer_range or (-(2**63), 2**63 - 1)
        info_low, info_high = _integer_limits(stype)
        proven = everywhere
        if low > info_low:
            proven = pc.and_(proven, pc.greater_equal(source, pa.scalar(low, stype)))
        if high < info_high:
            proven = pc.and_(proven, pc.less_equal(source, pa.scalar(high, stype)))
        proven = pc.fill_null(proven, _FALSE)
        inside = pc.if_else(proven, source, pa.nulls(len(source), stype))
        return pc.cast(inside, target), proven
    if kind is TypeKind.DECIMAL:
        if is_text:
            precision, scale = ctype.precision or 18, ctype.scale or 0
            whole = precision - scale
            if whole < 1:
                return None
            fraction = rf"(\.\d{{1,{scale}}})?" if scale else ""
            proven = pc.fill_null(pc.match_substring_regex(source, rf"^[+-]?\d{{1,{whole}}}{fraction}$"), _FALSE)
            inside = pc.if_else(proven, source, pa.nulls(len(source), stype))
            return pc.cast(inside, target), proven
        if pa.types.is_decimal(stype) or pa.types.is_integer(stype):
            return pc.cast(source, target), everywhere  # raises (-> Python) unless every value fits exactly
        return None
    if kind is TypeKind.FLOAT and (pa.types.is_floating(stype) or pa.types.is_integer(stype)):
        # + 0.0 turns -0.0 into 0.0 and changes nothing else: -0.0 is stored as zero (domain/values.py).
        as_float = pc.add(pc.cast(source, pa.float64()), _ZERO)
        return pc.cast(as_float, target), pc.fill_null(pc.is_finite(as_float), _FALSE)
    if kind is TypeKind.BOOLEAN and pa.types.is_boolean(stype):
        return source, everywhere
    if kind is TypeKind.DATE:
        if pa.types.is_date(stype):
            as_date = pc.cast(source, target)
            return as_date, pc.fill_null(_between(as_date, pa.scalar(_FIRST_DAY, target), pa.scalar(_LAST_DAY, target)),
                                         _FALSE)
        if is_text:
            shaped = pc.fill_null(pc.match_substring_regex(source, rf"^{_YEAR}-\d{{2}}-\d{{2}}$"), _FALSE)
            candidate = pc.if_else(shaped, source, pa.nulls(len(source), stype))
            parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
            # strptime is lenient (2024-02-30 becomes 2024-03-01): only a round trip proves a date.
            proven = pc.fill_null(pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), candidate), _FALSE)
            return pc.cast(pc.if_else(proven, parsed, pa.nulls(len(source), parsed.type)), target), proven
        return None
    if kind is TypeKind.TIMESTAMP and is_text:
        return _timestamp_text(source, target)
    if kind is TypeKind.TIMESTAMP and pa.types.is_timestamp(stype) and stype.tz is None:
        # Within what every reader can represent (Python's datetime: years 1 to 9999); the rest is refused.
        per_second = _UNITS_PER_SECOND[stype.unit]
        ticks = pc.cast(source, pa.int64())
        low = max(_FIRST_SECOND * per_second, -(2**63))
        high = min((_LAST_SECOND + 1) * per_second - 1, 2**63 - 1)
        inside = pc.fill_null(_between(ticks, pa.scalar(low, pa.int64()), pa.scalar(high, pa.int64())), _FALSE)
        kept = pc.if_else(inside, source, pa.nulls(len(source), stype))
        return pc.cast(kept, target, safe=False), inside
    if kind is TypeKind.UUID and is_text:
        return pc.cast(source, target), pc.fill_null(pc.match_substring_regex(source, _UUID_TEXT), _FALSE)
    return None


# Years 0001 to 9999: Arrow's parsers take year 0, Python's (the validator's) do not.
_YEAR = r"(?:[1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"
# The common RFC 3339 form (what exports and clients write): 'T', at most 6 fraction digits, 'Z'.
_TIMESTAMP_TEXT = rf"^{_YEAR}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}(\.\d{{1,6}})?Z$"


def _timestamp_text(source: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """RFC 3339 text in its common form, proven by a round trip (strptime is lenient: 02-30 becomes 03-01);
    offsets, lower-case letters, spaces and longer fractions are left to the validator."""
    shaped = pc.fill_null(pc.match_substring_regex(source, _TIMESTAMP_TEXT), _FALSE)
    candidate = pc.if_else(shaped, source, pa.nulls(len(source), source.type))
    seconds_text = pc.utf8_slice_codeunits(candidate, 0, 19)
    seconds = pc.strptime(seconds_text, format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    proven = pc.fill_null(pc.equal(pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%S"), seconds_text), _FALSE)
    seconds = pc.cast(seconds, pa.timestamp("us"))
    # ".123Z" -> "123" -> "123000" microseconds; no fraction -> "" -> "000000".
    digits = pc.utf8_rpad(pc.utf8_trim(pc.utf8_slice_codeunits(candidate, 19, 27), ".Z"), 6, "0")
    micros = pc.cast(pc.cast(pc.if_else(proven, digits, _TEXT_ZERO), pa.int64()), pa.duration("us"))
    moment = pc.add(pc.if_else(proven, seconds, pa.nulls(len(source), seconds.type)), micros)
    return pc.cast(moment, target), proven


_FIRST_DAY, _LAST_DAY = date(1, 1, 1), date(9999, 12, 31)
_FIRST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00 from the epoch
_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _between(values: pa.Array, low: pa.Scalar, high: pa.Scalar) -> pa.Array:
    return pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))


def _python_value(scalar: pa.Scalar) -> Any:
    """One Arrow value as Python, or the reason it has none (a date past year 9999, ...)."""
    try:
        return scalar.as_py()
    except (ValueError, OverflowError, pa.ArrowException):
        raise ValueProblem("OUT_OF_RANGE", "is outside the range this service can represent "
                                           "(dates and times from year 1 to 9999)") from None


def _integer_limits(stype: pa.DataType) -> tuple[int, int]:
    bits = stype.bit_width
    if pa.types.is_signed_integer(stype):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def read_ipc(data: bytes, message_number: int) -> pa.Table:
    """The message's table, checked in full (offsets, UTF-8) and with string views as plain strings."""
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowException, OSError, ValueError):
        raise _bad_arrow(message_number, "arrow_ipc is not a valid Arrow IPC stream (schema message plus "
                                         "record batches)", "INVALID_ARROW") from None
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            # Full validation: IPC reading checks structure only, so a string column may still
            # hold invalid UTF-8 (or offsets past its data) that would crash the kernels below.
            column.validate(full=True)
            if pa.types.is_string_view(column.type) or pa.types.is_large_string(column.type):
                column = column.cast(pa.string())
        except (pa.ArrowException, ValueError):
            problem = "is not valid UTF-8" if pa.types.is_string(column.type) or \
                pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type) \
                else "holds invalid data"
            raise _bad_arrow(message_number, f"column {_printable(name)!r} {problem}", "INVALID_ARROW_DATA",
                             column=name) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _bad_arrow(message_number: int, description: str, reason: str, *, column: str | None = None) -> InvalidArgument:
    text = f"message {message_number}: {description}"
    metadata = {"message_number": str(message_number)}
    if column is not None:
        metadata["column"] = _printable(column)
    return InvalidArgument(f"arrow_ipc is invalid in {text}", violations=[FieldViolation("arrow_ipc", text, reason)],
                           reason="INVALID_ARROW", metadata=metadata)


def _printable(name: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in name[:64])
    return cleaned + ("…" if len(name) > 64 else "")

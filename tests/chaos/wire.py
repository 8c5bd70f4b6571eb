"""Protobuf on the wire: requests protobuf's Python API refuses to build.

Invalid or overlong UTF-8 in a string field, Structs nested deeper than the
decoder allows, out-of-range enums and varints: a valid request is
serialized with the target field cleared, and the raw field is appended.
Protobuf's merge rules make the appended field take the place of the
cleared one (the last value of a singular field wins, a map entry replaces
the entry with its key), so the rest of the request stays valid.

A `Path` names the target from the request down: field names, an index
after a repeated field, a key after a map field (`Struct.fields`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor as F

Path = tuple[str | int, ...]
# Encodes the target field (tag included) given its descriptor.
Leaf = Callable[[F], bytes]

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_WIRE_TYPES = {
    F.TYPE_DOUBLE: FIXED64, F.TYPE_FIXED64: FIXED64, F.TYPE_SFIXED64: FIXED64,
    F.TYPE_FLOAT: FIXED32, F.TYPE_FIXED32: FIXED32, F.TYPE_SFIXED32: FIXED32,
    F.TYPE_STRING: LENGTH, F.TYPE_BYTES: LENGTH, F.TYPE_MESSAGE: LENGTH,
}

# google.protobuf.Value / Struct / ListValue field numbers.
VALUE_NULL, VALUE_NUMBER, VALUE_STRING, VALUE_BOOL, VALUE_STRUCT, VALUE_LIST = 1, 2, 3, 4, 5, 6
STRUCT_FIELDS = LIST_VALUES = 1


def varint(value: int) -> bytes:
    """Base-128 varint; negative numbers as 64-bit two's complement (10 bytes), as protobuf does."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, LENGTH) + varint(len(payload)) + payload


def scalar(field: F, value: Any) -> bytes:
    """`field` holding `value`, unchecked: raw bytes in a string, any int in an int32 or enum, NaN in a double."""
    wire_type = _WIRE_TYPES.get(field.type, VARINT)
    if wire_type == LENGTH:
        return length_delimited(field.number, value if isinstance(value, bytes) else str(value).encode())
    if field.type == F.TYPE_DOUBLE:
        return tag(field.number, FIXED64) + struct.pack("<d", value)
    if field.type == F.TYPE_FLOAT:
        return tag(field.number, FIXED32) + struct.pack("<f", value)
    if wire_type == FIXED64:
        return tag(field.number, FIXED64) + struct.pack("<Q", value & (1 << 64) - 1)
    if wire_type == FIXED32:
        return tag(field.number, FIXED32) + struct.pack("<I", value & (1 << 32) - 1)
    if field.type in (F.TYPE_SINT32, F.TYPE_SINT64):
        value = (value << 1) ^ (value >> 63)  # zigzag
    return tag(field.number, VARINT) + varint(int(value))


def leaf_scalar(value: Any) -> Leaf:
    return lambda field: scalar(field, value)


def leaf_message(payload: bytes) -> Leaf:
    """An embedded message given as bytes (a Value, a Duration...)."""
    return lambda field: length_delimited(field.number, payload)


def map_entry(key: bytes, value_payload: bytes) -> bytes:
    """A `map<string, Message>` entry: key (field 1) and value (field 2), both raw."""
    return length_delimited(1, key) + length_delimited(2, value_payload)


def leaf_struct_entry(key: bytes, value_payload: bytes) -> Leaf:
    """A new `Struct.fields` entry with a raw key."""
    return lambda field: length_delimited(field.number, map_entry(key, value_payload))


def _is_map(field: F) -> bool:
    return field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def place(message: Any, path: Path, leaf: Leaf) -> bytes:
    """`message` serialized with the field at `path` replaced by what `leaf` encodes.

    A path ending at a map field appends an entry (a new key); ending at a
    key replaces that entry; ending at a repeated field's index replaces
    that element; ending at a singular field replaces its value.
    """
    field = message.DESCRIPTOR.fields_by_name[path[0]]
    rest = path[1:]
    copy = type(message)()
    copy.CopyFrom(message)
    container = getattr(copy, field.name)
    if _is_map(field):
        if not rest:
            return copy.SerializeToString() + leaf(field)
        key, rest = rest[0], rest[1:]
        if key in container:
            del container[key]
        if not rest:
            return copy.SerializeToString() + leaf(field)
        inner = place(getattr(message, field.name)[key], rest, leaf)
        return copy.SerializeToString() + length_delimited(field.number, map_entry(str(key).encode(), inner))
    if field.is_repeated:
        index = rest[0] if rest and isinstance(rest[0], int) else None
        rest = rest[1:] if index is not None else rest
        original = getattr(message, field.name)[index] if index is not None and rest else None
        if index is not None and index < len(container):
            del container[index]
        if not rest:
            return copy.SerializeToString() + leaf(field)
        return copy.SerializeToString() + length_delimited(field.number, place(original, rest, leaf))
    if not rest:
        copy.ClearField(field.name)
        return copy.SerializeToString() + leaf(field)
    copy.ClearField(field.name)
    return copy.SerializeToString() + length_delimited(field.number, place(getattr(message, field.name), rest, leaf))


# -- google.protobuf.Value payloads -------------------------------------------------------------
def value_string(raw: bytes) -> bytes:
    return length_delimited(VALUE_STRING, raw)


def value_number(number: float) -> bytes:
    return tag(VALUE_NUMBER, FIXED64) + struct.pack("<d", number)


def value_bool(flag: bool) -> bytes:
    return tag(VALUE_BOOL, VARINT) + varint(int(flag))


def value_null() -> bytes:
    return tag(VALUE_NULL, VARINT) + varint(0)


def value_struct(entries: dict[bytes, bytes]) -> bytes:
    return length_delimited(VALUE_STRUCT, b"".join(length_delimited(STRUCT_FIELDS, map_entry(k, v))
                                                   for k, v in entries.items()))


def value_list(items: list[bytes]) -> bytes:
    return length_delimited(VALUE_LIST, b"".join(length_delimited(LIST_VALUES, item) for item in items))


def deep_value(depth: int, kind: str = "struct") -> bytes:
    """A Value nested `depth` levels: Structs, lists, or the two alternating ("mixed")."""
    value = value_string(b"bottom")
    for level in range(depth):
        as_struct = kind == "struct" or (kind == "mixed" and level % 2 == 0)
        value = value_struct({b"d": value}) if as_struct else value_list([value])
    return value


def duration(seconds: int, nanos: int) -> bytes:
    """A google.protobuf.Duration (or Timestamp: same fields), any values."""
    return tag(1, VARINT) + varint(seconds) + tag(2, VARINT) + varint(nanos)

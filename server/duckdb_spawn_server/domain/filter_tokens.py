"""Tokens of the AIP-160 filter language (see domain/filter_syntax.py for the grammar).

The tokenizer knows a little context: after a comparator, `-5` is a
negative number; elsewhere `-` is negation. Dates and RFC 3339 timestamps
are tokens of their own, so they need no quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .errors import FieldViolation, InvalidArgument


class Tok(Enum):
    LPAREN = "("
    RPAREN = ")"
    DOT = "."
    COMMA = ","
    COMPARATOR = "comparator"
    MINUS = "-"
    STAR = "*"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    TIMESTAMP = "timestamp"
    WORD = "word"
    EOF = "end of filter"


@dataclass(frozen=True)
class Token:
    kind: Tok
    text: str  # as written (STRING: decoded, with wildcards shown as '*')
    pos: int  # 0-based offset in the filter text
    parts: tuple[str, ...] | None = None  # STRING with wildcards: the literal pieces around each '*'


def filter_error(position: int, description: str, reason: str = "INVALID_FILTER",
                 field_name: str = "filter") -> InvalidArgument:
    """INVALID_ARGUMENT for a filter, naming the 1-based character position."""
    text = f"at position {position + 1}: {description}"
    return InvalidArgument(f"{field_name} is invalid {text}",
                           violations=[FieldViolation(field_name, text, reason)],
                           reason="INVALID_FILTER", metadata={"position": str(position + 1), "field": field_name})


# ASCII digits only: Python's `\d` (and Decimal()) also take Arabic-Indic, full-width ... digits.
_TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?![\w:])")
NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = " \t\r\n"


def tokenize(text: str, field_name: str = "filter") -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        after_comparator = bool(tokens) and tokens[-1].kind is Tok.COMPARATOR
        if ch in "\"'":
            token, i = _string(text, i, field_name)
            tokens.append(token)
            continue
        two = text[i:i + 2]
        if two in ("<=", ">=", "!="):
            tokens.append(Token(Tok.COMPARATOR, two, i))
            i += 2
            continue
        if ch in "=<>:":
            tokens.append(Token(Tok.COMPARATOR, ch, i))
            i += 1
            continue
        simple = {"(": Tok.LPAREN, ")": Tok.RPAREN, ",": Tok.COMMA, "*": Tok.STAR}
        if ch in simple:
            tokens.append(Token(simple[ch], ch, i))
            i += 1
            continue
        for kind, pattern in ((Tok.TIMESTAMP, _TIMESTAMP_RE), (Tok.DATE, _DATE_RE)):
            match = pattern.match(text, i)
            if match:
                tokens.append(Token(kind, match.group(), i))
                i = match.end()
                break
        else:
            if ch in "+-" and not after_comparator:
                if ch == "+":
                    raise filter_error(i, "unexpected '+'", field_name=field_name)
                tokens.append(Token(Tok.MINUS, ch, i))
                i += 1
                continue
            match = NUMBER_RE.match(text, i)
            if match:
                tokens.append(Token(Tok.NUMBER, match.group(), i))
                i = match.end()
                continue
            if ch == ".":
                tokens.append(Token(Tok.DOT, ch, i))
                i += 1
                continue
            match = _WORD_RE.match(text, i)
            if match:
                tokens.append(Token(Tok.WORD, match.group(), i))
                i = match.end()
                continue
            shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
            raise filter_error(i, f"unexpected character {shown!r}", field_name=field_name)
    tokens.append(Token(Tok.EOF, "", n))
    return tokens


def _string(text: str, start: int, field_name: str) -> tuple[Token, int]:
    quote = text[start]
    pieces: list[str] = []
    current: list[str] = []
    wildcard = False
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                break
            current.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            pieces.append("".join(current))
            decoded = "*".join(pieces)
            return Token(Tok.STRING, decoded, start, tuple(pieces) if wildcard else None), i + 1
        if ch == "*":
            wildcard = True
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    raise filter_error(start, "the string starting here is not closed", field_name=field_name)

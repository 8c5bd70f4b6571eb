"""The AIP-160 filter language: its grammar, parsed into an untyped syntax tree.

Grammar (AIP-160, restricted to what a flat resource needs)::

    filter      := [expression]
    expression  := sequence { "AND" sequence }
    sequence    := factor { factor }              juxtaposition is an implicit AND
    factor      := term { "OR" term }             OR binds tighter than AND (AIP-160)
    term        := [ "NOT" | "-" ] simple
    simple      := restriction | "(" expression ")"
    restriction := member comparator arg
    member      := name { "." name }              `attributes.x` is the same field as `x`
    comparator  := "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
    arg         := string | number | date | timestamp | word | "true" | "false" | "null" | "*"

Strings are double- or single-quoted; a backslash escapes the next
character. An unescaped `*` inside a string is a wildcard (`"Solar*"`);
`\\*` is a literal star. Keywords (AND, OR, NOT) are upper case, as in
AIP-160. Not supported, and rejected with a clear message: bare values
without a field (global search), functions, comparing two fields.

Limits: `MAX_FILTER_LENGTH` characters, `MAX_FILTER_TERMS` restrictions,
`MAX_FILTER_DEPTH` nested parentheses / negations. Every error is
INVALID_ARGUMENT naming the 1-based character position.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import InvalidArgument
from .filter_tokens import Tok, Token, filter_error, tokenize

MAX_FILTER_LENGTH = 4096
MAX_FILTER_TERMS = 64
MAX_FILTER_DEPTH = 16

KEYWORDS = ("AND", "OR", "NOT")
__all__ = ["filter_error", "parse_filter_syntax"]


class LiteralKind(Enum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    TIMESTAMP = "timestamp"
    WORD = "word"  # unquoted text such as an enum value
    BOOL = "boolean"
    NULL = "null"
    STAR = "*"


@dataclass(frozen=True)
class Literal:
    kind: LiteralKind
    text: str
    pos: int
    parts: tuple[str, ...] | None = None  # wildcard pieces (STRING only)


@dataclass(frozen=True)
class Restriction:
    path: str
    path_pos: int
    op: str
    op_pos: int
    arg: Literal


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Negation:
    child: Node
    pos: int


Node = Restriction | AllOf | AnyOf | Negation


# -- parser -------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[Token], field_name: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.terms = 0
        self.field_name = field_name

    def error(self, token: Token, description: str, reason: str = "INVALID_FILTER") -> InvalidArgument:
        return filter_error(token.pos, description, reason, self.field_name)

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, token: Token, word: str) -> bool:
        return token.kind is Tok.WORD and token.text == word

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:
            raise self.error(token, f"nested more than {MAX_FILTER_DEPTH} levels deep", "FILTER_TOO_COMPLEX")

    # expression := sequence { AND sequence }
    def expression(self) -> Node:
        parts = [self.sequence()]
        while self.is_keyword(self.peek, "AND"):
            self.take()
            parts.append(self.sequence())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    # sequence := factor { factor }
    def sequence(self) -> Node:
        parts = [self.factor()]
        while self.peek.kind not in (Tok.EOF, Tok.RPAREN) and not self.is_keyword(self.peek, "AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    # factor := term { OR term }
    def factor(self) -> Node:
        parts = [self.term()]
        while self.is_keyword(self.peek, "OR"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    # term := [NOT | -] simple
    def term(self) -> Node:
        token = self.peek
        if self.is_keyword(token, "NOT") or token.kind is Tok.MINUS:
            self.take()
            self.enter(token)
            child = self.simple()
            self.depth -= 1
            return Negation(child, token.pos)
        return self.simple()

    def simple(self) -> Node:
        token = self.peek
        if token.kind is Tok.LPAREN:
            self.take()
            self.enter(token)
            if self.peek.kind is Tok.RPAREN:
                raise self.error(self.peek, "empty parentheses")
            inner = self.expression()
            if self.peek.kind is not Tok.RPAREN:
                raise self.error(self.peek, f"expected ')' to close the '(' at position {token.pos + 1}, "
                                            f"found {_describe(self.peek)}")
            self.take()
            self.depth -= 1
            return inner
        return self.restriction()

    def restriction(self) -> Restriction:
        start = self.peek
        path = self.member()
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise self.error(start, f"more than {MAX_FILTER_TERMS} comparisons", "FILTER_TOO_COMPLEX")
        op = self.peek
        if op.kind is Tok.LPAREN:
            raise self.error(op, "functions are not supported")
        if op.kind is not Tok.COMPARATOR:
            hint = ""
            if path.upper() in KEYWORDS:
                hint = f"; operators are upper case: {path.upper()}"
            raise self.error(op, f"expected a comparison operator (=, !=, <, <=, >, >=, :) after "
                                 f"{_shown(path)}, found {_describe(op)}{hint}")
        self.take()
        return Restriction(path, start.pos, op.text, op.pos, self.arg(op))

    def member(self) -> str:
        token = self.peek
        if token.kind is not Tok.WORD or token.text in KEYWORDS:
            raise self.error(token, f"expected a field name, found {_describe(token)}")
        self.take()
        names = [token.text]
        while self.peek.kind is Tok.DOT:
            dot = self.take()
            part = self.peek
            if part.kind is not Tok.WORD:
                raise self.error(part if part.kind is not Tok.EOF else dot, "expected a field name after '.'")
            names.append(self.take().text)
        return ".".join(names)

    def arg(self, op: Token) -> Literal:
        token = self.peek
        kinds = {Tok.STRING: LiteralKind.STRING, Tok.NUMBER: LiteralKind.NUMBER, Tok.DATE: LiteralKind.DATE,
                 Tok.TIMESTAMP: LiteralKind.TIMESTAMP, Tok.STAR: LiteralKind.STAR}
        if token.kind in kinds:
            self.take()
            return Literal(kinds[token.kind], token.text, token.pos, token.parts)
        if token.kind is Tok.MINUS and self.tokens[self.index + 1].kind is Tok.NUMBER:
            self.take()
            number = self.take()
            return Literal(LiteralKind.NUMBER, "-" + number.text, token.pos)
        if token.kind is Tok.WORD and token.text not in KEYWORDS:
            self.take()
            if self.peek.kind is Tok.DOT:
                raise self.error(token, "comparing with another field is not supported; quote text values")
            lowered = token.text.lower()
            if lowered in ("true", "false"):
                return Literal(LiteralKind.BOOL, lowered, token.pos)
            if lowered == "null":
                return Literal(LiteralKind.NULL, lowered, token.pos)
            return Literal(LiteralKind.WORD, token.text, token.pos)
        raise self.error(token, f"expected a value after '{op.text}', found {_describe(token)}")


def _shown(text: str) -> str:
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def _describe(token: Token) -> str:
    if token.kind is Tok.EOF:
        return "the end of the filter"
    if token.kind is Tok.STRING:
        return f"the string {_shown(token.text)}"
    return _shown(token.text)


def parse_filter_syntax(text: str, field_name: str = "filter") -> Node | None:
    """The syntax tree of `text`, None for an empty filter, or INVALID_ARGUMENT naming the position."""
    if len(text) > MAX_FILTER_LENGTH:
        raise filter_error(MAX_FILTER_LENGTH, f"a filter has at most {MAX_FILTER_LENGTH} characters",
                           "FILTER_TOO_LONG", field_name)
    if not text.strip():
        return None
    parser = _Parser(tokenize(text, field_name), field_name)
    tree = parser.expression()
    if parser.peek.kind is not Tok.EOF:
        token = parser.peek
        if token.kind is Tok.RPAREN:
            raise parser.error(token, "unbalanced ')'")
        raise parser.error(token, f"unexpected {_describe(token)}")
    return tree

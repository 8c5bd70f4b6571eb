"""Ontology patterns, compiled for RE2: matching takes time linear in the value, whatever the pattern.

Patterns come from the ontology server, which the service does not trust. A
backtracking engine (Python's `re`) lets one pattern such as `^(a+)+$` spend
seconds, then minutes, on a 30-character value while holding the GIL, which
stops every other call. RE2 has no backtracking: it runs in time linear in the
value's length, and refuses the constructs that need backtracking
(backreferences, lookaround) when the pattern is compiled. So a pattern is
compiled here once, when a schema document is loaded; one RE2 cannot run
rejects the whole document, and the schema in force stays.

The model keeps patterns in full-match form in RE2 syntax: a value is valid
when the pattern matches all of it. `\\d`, `\\w`, `\\s` and `\\b` are ASCII in RE2.
"""

from __future__ import annotations

import re2

# The compiled program is bounded too (RE2's default budget, said here so it stays): a pattern
# such as `(\pL{100}){10}` is refused at load instead of taking memory at match time.
_MAX_PROGRAM_MEMORY = 8 << 20


class InvalidPattern(ValueError):
    """A pattern that cannot run in RE2; the message says why, for the schema's author."""


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _MAX_PROGRAM_MEMORY
    # Failures are reported through InvalidPattern; RE2's own log would print to stderr.
    options.log_errors = False
    return options


_OPTIONS = _options()


def compile_pattern(pattern: str) -> re2._Regexp:
    """The RE2 program for a full-match pattern, or InvalidPattern saying why RE2 refuses it."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        raise InvalidPattern(f"RE2 cannot compile it: {_reason(error)}{_hint(pattern)}") from None


def anchored(pattern: str) -> str:
    """A compiled full-match pattern as a search pattern that must match the whole value.

    For engines that search (Arrow's `match_substring_regex`, also RE2). Only
    for patterns `compile_pattern` accepted: their parentheses balance, so the
    wrapper cannot be re-associated by the pattern.
    """
    return rf"\A(?:{pattern})\z"


def _reason(error: re2.error) -> str:
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text[:160] or "invalid pattern"


def _hint(pattern: str) -> str:
    if "(?=" in pattern or "(?!" in pattern or "(?<=" in pattern or "(?<!" in pattern:
        return " (lookahead and lookbehind are not supported)"
    if any(f"\\{digit}" in pattern for digit in "123456789") or "(?P=" in pattern or "\\k<" in pattern:
        return " (backreferences are not supported)"
    return ""


__all__ = ["InvalidPattern", "anchored", "compile_pattern"]

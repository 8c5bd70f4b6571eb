"""One row of figures per scenario, and the table that shows them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MAX_PROBLEMS = 200  # kept per scenario; the count goes on


@dataclass
class Row:
    """What one scenario tried and what broke.

    `acknowledged` counts writes the API confirmed (a created, updated or
    deleted row each); `lost` those whose effect was missing afterwards.
    Every broken promise is one entry in `problems` (its first words name
    the check); the verdict is `ok` only when there are none.
    """

    scenario: str
    tried: int = 0
    internal: int = 0
    acknowledged: int = 0
    lost: int = 0
    restart_seconds: list[float] = field(default_factory=list)  # kill -9 -> readiness SERVING
    exit_seconds: list[float] = field(default_factory=list)  # SIGTERM -> process exit
    notes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    repeats: dict[str, int] = field(default_factory=dict)  # problem -> times it was seen
    examples: dict[str, list[str]] = field(default_factory=dict)  # problem -> the first inputs that showed it
    problem_count: int = 0
    skipped: str = ""
    seconds: float = 0.0

    def problem(self, text: str, example: str = "") -> None:
        """One broken promise; the same text again only counts (and keeps two examples, when given)."""
        self.problem_count += 1
        if text in self.repeats:
            self.repeats[text] += 1
        elif len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
            self.repeats[text] = 1
        if example and text in self.repeats and len(self.examples.setdefault(text, [])) < 2:
            self.examples[text].append(example)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def verdict(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        return "ok" if self.ok else f"BROKEN ({self.problem_count})"

    def summary(self, limit: int = 25) -> str:
        """The verdict and the first problems, for an assertion message."""
        lines = [" | ".join(_cells(self))]
        # Lost writes first, then the scenario's other problems as they came, then those of single inputs
        # (with examples), most frequent first.
        ordered = sorted(self.problems, key=lambda p: (p in self.examples, "lost" not in p,
                                                       -self.repeats[p] if p in self.examples else 0))
        for text in ordered[:limit]:
            times = f" (x{self.repeats[text]})" if self.repeats[text] > 1 else ""
            shown = f"; e.g. {' | '.join(self.examples[text])}" if self.examples.get(text) else ""
            lines.append(f"  - {text}{times}{shown}")
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more kinds")
        return "\n".join(lines)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _span(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:.2f}" if abs(high - low) < 0.005 else f"{low:.2f}-{high:.2f}"


COLUMNS = ("scenario", "tried", "INTERNAL", "acknowledged / lost", "restart s (kill -9 -> ready)",
           "exit s (SIGTERM -> exit)", "time s", "notes", "verdict")


def _cells(row: Row) -> tuple[str, ...]:
    notes = ", ".join(f"{k} {v}" for k, v in row.notes.items())
    return (row.scenario, str(row.tried), str(row.internal), f"{row.acknowledged} / {row.lost}",
            _span(row.restart_seconds), _span(row.exit_seconds), f"{row.seconds:.1f}", notes or "-", row.verdict)


def render(rows: list[Row]) -> str:
    """A Markdown table (readable as plain text too)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)

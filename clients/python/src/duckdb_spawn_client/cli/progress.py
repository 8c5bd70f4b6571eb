"""Progress bars for import and export: rows, rate and ETA, on stderr (rich)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..bulk import Progress as Step
from ..bulk import ProgressCallback


class RowRateColumn(ProgressColumn):
    """Rows per second, whatever unit the bar itself counts in."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        rows = task.fields.get("rows", 0)
        if not elapsed:
            return Text("- rows/s", style="progress.data.speed")
        return Text(f"{rows / elapsed:,.0f} rows/s", style="progress.data.speed")


@contextmanager
def progress_bar(description: str, enabled: bool, forced: bool, unit: str = "rows") -> Iterator[ProgressCallback]:
    """A callback that moves a bar; a no-op when disabled. `forced` draws even when stderr is not a terminal."""
    if not enabled:
        yield lambda _step: None
        return
    console = Console(stderr=True, force_terminal=True if forced else None, width=120 if forced else None)
    amount = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), amount,
                  TextColumn("{task.fields[rows]:,} rows"), RowRateColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False) as bar:
        task = bar.add_task(description, total=None, rows=0)

        def advance(step: Step) -> None:
            bar.update(task, completed=step.completed, total=step.total, rows=step.rows)

        yield advance

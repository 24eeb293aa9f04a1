"""What `npl map` shows while it runs and when it ends.

On a terminal (stderr), a rich progress bar: records done of all, the rate,
the errors so far and the time left; elsewhere nothing while it runs. Either
way, one summary line at the end (`summary`).
"""
from __future__ import annotations

import sys
from typing import Optional


class MapProgress:
    """A progress bar over `total` records (None: unknown), shown only when
    `stream` is a terminal. Use as a context manager; `advance(n, failed)`
    after each batch written."""

    def __init__(self, total: Optional[int], done: int = 0, stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = done
        self.failed = 0
        self.bar = None
        self.task = None
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __enter__(self) -> "MapProgress":
        if self.interactive:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("npl map"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("records"),
                                TextColumn("{task.fields[rate]}"),
                                TextColumn("{task.fields[errors]}"), TimeRemainingColumn(),
                                console=Console(file=self.stream), transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task("map", total=self.total, completed=self.done,
                                          rate="", errors="0 errors")
        return self

    def advance(self, records: int, failed: int) -> None:
        self.done += records
        self.failed += failed
        if self.bar is not None:
            self.bar.update(self.task, advance=records, errors=f"{self.failed} errors",
                            rate=_rate(self.bar.tasks[0].speed))

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
            self.bar = None


def _rate(speed: Optional[float]) -> str:
    return f"{speed:,.0f}/s" if speed else ""


def summary(*, records: int, failed: int, seconds: float, kept: int = 0, kept_failed: int = 0,
            output: Optional[str] = None, workers: str = "") -> str:
    """The line `npl map` ends with: how many records this run did, how
    many failed, its speed, and what a resumed output already held."""
    rate = f", {records / seconds:,.0f} records/s" if seconds > 0 and records else ""
    text = (f"npl map: {records} record(s), {records - failed} ok, {failed} failed "
            f"({seconds:.1f} s{rate}{', ' + workers if workers else ''})")
    if kept:
        text += f"; {kept} already in {output} ({kept_failed} failed)"
    elif output:
        text += f" -> {output}"
    return text

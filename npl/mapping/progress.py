"""What `npl map` shows while it runs and when it ends.

On a terminal (stderr), a rich progress bar: records done of all, the rate,
the errors so far and the time left; elsewhere nothing while it runs. Either
way, one summary line at the end (`summary`).
"""
from __future__ import annotations

import sys
from typing import Optional


class MapProgress:
    """Counts the records written; on a terminal (`stream`, default stderr)
    also shows them as a progress bar over the input's records."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = False
        self.written = 0
        self.failed = 0
        self.bar = None
        self.task = None

    def start(self, total: Optional[int], kept: int) -> None:
        """The job starts: `total` records in all (None: not counted), of
        which a resumed output holds `kept`."""
        self.started = True
        if self.interactive:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeRemainingColumn)
            self.bar = Progress(TextColumn("npl map"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("records"), TextColumn("{task.fields[rate]}"),
                                TextColumn("{task.fields[errors]}"), TimeRemainingColumn(),
                                console=Console(file=self.stream), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("map", total=total, completed=kept, rate="",
                                          errors="0 errors")

    def advance(self, records: int, failed: int) -> None:
        """A batch was written: `records` more, `failed` of them errors."""
        self.written += records
        self.failed += failed
        if self.bar is not None:
            self.bar.update(self.task, advance=records, errors=f"{self.failed} errors",
                            rate=_rate(self.bar.tasks[0].speed))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _rate(speed: Optional[float]) -> str:
    return f"{speed:,.0f}/s" if speed else ""


def stopped(written: int, failed: int, output: str) -> str:
    """The line for a job that stopped before its end (Ctrl-C, an error)."""
    return (f"npl map: stopped after writing {written} record(s) ({failed} failed) to {output}; "
            "`--resume` continues")


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

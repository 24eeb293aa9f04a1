"""Progress and cost reporting while filling.

On a terminal, a live table (rich) shows each hole's state, current step
and tokens; elsewhere (pipes, CI) one plain line per finished hole goes to
stderr, or nothing with quiet=True. `summary` prints which source filled
what, model calls, tokens and the estimated cost (the price table of
filling/providers/pricing.toml, overridable in npl.toml).
"""
from __future__ import annotations

import sys
import threading
from collections import Counter


class Progress:
    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = None
        self.rows: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.interactive = (not quiet) and hasattr(self.stream, "isatty") and self.stream.isatty()

    def __enter__(self):
        if self.interactive:
            from rich.console import Console
            from rich.live import Live
            self.live = Live(self.table(), console=Console(file=self.stream), refresh_per_second=8,
                             transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(*exc)
            self.live = None

    def table(self):
        from rich.table import Table
        t = Table(title="filling holes", show_lines=False)
        for col in ("hole", "location", "state", "step"):
            t.add_column(col)
        for name, (loc, state, step) in self.rows.items():
            t.add_row(name, loc, state, step)
        return t

    def set(self, spec, state: str, step: str) -> None:
        with self.lock:
            self.rows[spec.name] = [spec.location, state, step]
            if self.live is not None:
                self.live.update(self.table())

    def start(self, spec) -> None:
        self.set(spec, "filling", "library / synthesizer")

    def event(self, spec, message: str, show: bool = False) -> None:
        """The current step; with show=True also a line when not live."""
        self.set(spec, "filling", message)
        if show and not self.interactive and not self.quiet:
            print(f"npl: {spec.name}: {message}", file=self.stream)

    def done(self, spec, source: str) -> None:
        self.set(spec, "filled", f"by {source}")
        if not self.interactive and not self.quiet:
            print(f"npl: filled {spec.name} ({spec.location}) by {source}", file=self.stream)

    def warn(self, message: str) -> None:
        """A warning line, shown even with quiet=True (above a live table)."""
        if self.live is not None:
            self.live.console.print(f"npl: warning: {message}", markup=False, highlight=False)
        else:
            print(f"npl: warning: {message}", file=self.stream)

    def failed(self, spec, reason: str) -> None:
        self.set(spec, "FAILED", reason.splitlines()[0][:80])

    def summary(self, report, settings) -> None:
        if self.quiet:
            return
        sources = Counter(o.provenance.source for o in report.outcomes)
        u = report.usage
        parts = [f"{n} by {src}" for src, n in sorted(sources.items())]
        line = f"npl: filled {len(report.outcomes)} hole(s)" + (": " + ", ".join(parts) if parts else "")
        if report.failures:
            line += f"; {len(report.failures)} failed"
        print(line, file=self.stream)
        if u.calls:
            from .providers.pricing import estimate_cost
            cost = estimate_cost(report.model or "", u.prompt_tokens, u.completion_tokens,
                                 settings.prices or None)
            cost_text = f"${cost:.4f}" if cost is not None else "unknown cost"
            print(f"npl: {u.calls} model call(s) to {report.model}, {u.prompt_tokens} prompt + "
                  f"{u.completion_tokens} completion tokens, {u.seconds:.1f} s, est. {cost_text}",
                  file=self.stream)

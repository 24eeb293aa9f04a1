"""Diagnostics: the one error type every compile stage reports.

A `Diagnostic` has a code (E001...), a message, a span, optional notes and
an optional `Fix`: an edit that makes it go away and that a tool may make
without asking (the fill loop does, on model-written code). Rendered as

    file:line:col: error[E012]: message
        total = x + y
                ^^^^^
    note: ...

Stages collect diagnostics in a `DiagnosticBag` so that one run reports
several errors; `CompileError` carries a list of them out of the driver.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .ast import Span
from .errors import CompileKind

# Error codes, one per kind of problem. Keep this table the single source of
# truth: docs/reference.md §9 lists it (tests/test_docs.py checks).
CODES = {
    "E001": "syntax error",
    "E002": "invalid token or character",
    "E003": "inconsistent indentation",
    "E010": "undefined name",
    "E011": "duplicate definition",
    "E012": "type mismatch",
    "E013": "wrong number or kind of arguments",
    "E014": "unknown attribute or method",
    "E015": "not callable / not indexable / not iterable",
    "E016": "missing return",
    "E017": "assignment to a constant or read-only value",
    "E018": "unsupported construct",
    "E019": "empty literal needs a type annotation",
    "E020": "hole needs an expected type",
    "E021": "import error",
    "E022": "break/continue outside a loop",
    "E023": "invalid type expression",
    "E030": "function is not kernel-eligible",
    "E040": "unfilled hole",
    "E041": "invalid fill",
    "E042": "lock file error",
    "E050": "missing extern",
    "E060": "no main function",
    "E070": "invalid oracle",
}


@dataclass(frozen=True)
class Edit:
    """`text` in place of `span`'s text (an empty span inserts it)."""
    span: Span
    text: str


@dataclass(frozen=True)
class Fix:
    """A machine-applicable edit for a diagnostic, offered only where its
    meaning is the one the code evidently intends (see apply_fixes): `int(`
    and `)` around a float where an int is expected (`Fix.wrap`), or a
    variable given a value of another type renamed from there on, as
    Python would read it (`label` then says so)."""
    edits: tuple[Edit, ...]
    label: str = ""

    @staticmethod
    def wrap(span: Span, before: str, after: str) -> "Fix":
        return Fix((Edit(point(span.file, span.line, span.col), before),
                    Edit(point(span.file, span.end_line, span.end_col), after)))


def point(file: str, line: int, col: int) -> Span:
    return Span(file, line, col, line, col)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    severity: str = "error"
    notes: tuple[str, ...] = ()
    fix: Optional[Fix] = None

    def render(self, source: Optional[str] = None, color: bool = False) -> str:
        """`file:line:col: error[CODE]: message`, the source line and a caret."""
        head = f"{self.span.file}:{self.span.line}:{self.span.col}: {self.severity}[{self.code}]: {self.message}"
        lines = [head]
        text = source_line(source, self.span.line)
        if text is not None:
            lines.append("    " + text.rstrip("\n"))
            lines.append("    " + caret_line(text, self.span))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(source: str) -> list[str]:
    """The lines of `source`, broken where the lexer breaks them (at LF, CR LF
    and CR), so that line N here is line N of a Span. str.splitlines() also
    breaks at VT, FF, FS, GS, RS, NEL, U+2028 and U+2029, which the lexer
    reads as ordinary characters (in strings, comments, indentation)."""
    lines = _LINE_BREAK.split(source)
    if lines[-1] == "":
        lines.pop()                 # the text after the final line break is no line
    return lines


def source_line(source: Optional[str], line: int) -> Optional[str]:
    if source is None or line < 1:
        return None
    all_lines = split_lines(source)
    if line > len(all_lines):
        return None
    return all_lines[line - 1].expandtabs(1)


def caret_line(text: str, span: Span) -> str:
    start = max(span.col - 1, 0)
    if span.end_line == span.line and span.end_col > span.col:
        width = span.end_col - span.col
    else:
        width = max(len(text.rstrip()) - start, 1)
    width = max(1, min(width, max(len(text) - start, 1)))
    return " " * start + "^" * width


@dataclass
class DiagnosticBag:
    """Collects diagnostics from one or more stages."""
    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, *notes: str,
              fix: Optional[Fix] = None) -> Diagnostic:
        d = Diagnostic(code, message, span, "error", tuple(notes), fix)
        self.items.append(d)
        return d

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class CompileError(CompileKind):
    """Raised by the driver when a stage reported errors. `sources` maps a
    file name to its text, so the diagnostics can be rendered with carets.
    `render()` is the diagnostics; the command line adds their count."""

    def __init__(self, diagnostics: list[Diagnostic], sources: Optional[dict[str, str]] = None):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.span.file, d.span.line, d.span.col))
        self.sources = sources or {}
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render(self.sources.get(d.span.file)) for d in self.diagnostics)

    def report_text(self) -> str:
        n = len(self.diagnostics)
        return f"{self.render()}\n{n} error{'s' if n != 1 else ''}"


def apply_fixes(source: str, diagnostics: Iterable[Diagnostic], file: str) -> Optional[tuple[str, list[str]]]:
    """`source` (the text of `file`) with the fixes of its errors made, and
    a description of each, or None when none has one. Errors without a fix
    may be consequences of those with one (a variable renamed, the later
    misuse of its old type gone): the caller compiles the result again and
    keeps it only if it compiles. None too when a fix lies beyond the text
    or two fixes overlap."""
    errors = [d for d in diagnostics if d.severity == "error" and d.fix is not None
              and all(e.span.file == file for e in d.fix.edits)]
    if not errors:
        return None
    starts = line_offsets(source)

    def offset(line: int, col: int) -> Optional[int]:
        return starts[line - 1] + col - 1 if 1 <= line <= len(starts) and col >= 1 else None

    edits, described = [], []
    for d in errors:
        placed = [(offset(e.span.line, e.span.col), offset(e.span.end_line, e.span.end_col), e.text)
                  for e in d.fix.edits]
        if any(a is None or b is None or b < a for a, b, _ in placed):
            return None
        edits += placed
        described.append(d.fix.label or before_after(source, placed))
    edits.sort(key=lambda e: (e[0], e[1]))
    if any(b[0] < a[1] for a, b in zip(edits, edits[1:])):
        return None                         # overlapping edits
    return edited(source, edits), described


def before_after(source: str, edits: list[tuple[int, int, str]]) -> str:
    """"OLD -> NEW" for the stretch of `source` that `edits` change."""
    first, last = min(a for a, _, _ in edits), max(b for _, b, _ in edits)
    grown = sum(len(text) - (b - a) for a, b, text in edits)
    return f"{source[first:last]} -> {edited(source, edits)[first:last + grown]}"


def edited(source: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        source = source[:start] + text + source[end:]
    return source


def line_offsets(source: str) -> list[int]:
    """The offset in `source` at which each line (as split_lines breaks them) starts."""
    return [0] + [m.end() for m in _LINE_BREAK.finditer(source)]

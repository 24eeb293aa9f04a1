"""NPL run-time errors.

Generated code runs as plain Python, so a run-time fault surfaces as an
ordinary Python exception (IndexError, ZeroDivisionError, ...) or as an
`NplRuntimeError` raised by a runtime helper (failed assert, unfilled hole,
step budget). `translate` takes either, plus its traceback, at the boundary
between the host and the program, and gives back one `NplRuntimeError` with
an NPL-level message and an NPL stack trace: only frames whose code was
generated from NPL source are kept, and each is shown as
`in function (file:line)`. A user never sees a Python traceback.
"""
from __future__ import annotations

import errno
import re
import sys

from npl.lang.errors import RunKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Callable, Iterable, Optional

    from .frames import Frame

# Frames of these generated code objects are folded into their caller (the
# module body only initialises constants, each in its own `const NAME` frame).
_HIDDEN_CODE_NAMES = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>",
                                "<module>"})


def __getattr__(name: str):
    # `Frame` (a dataclass) lives in runtime/frames.py and is imported on
    # first use: `dataclasses` is too slow an import for every `npl run`.
    if name == "Frame":
        from .frames import Frame
        return Frame
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class NplRuntimeError(RunKind):
    """A run-time error in an NPL program (exit status 1).

    kind (per instance, refining RunKind's "runtime"): "index"
    "zero_division" "key" "assert" "none" "unbound" "stack_overflow"
    "step_limit" "time_limit" "output_limit" "value" "overflow" "memory"
    "output" "hole" "extern" "type"; LIMIT_KINDS are those of a verification limit.
    frames: NPL call stack, innermost last (filled in by `translate`)."""

    def __init__(self, kind: str, message: str, frames: Optional[list[Frame]] = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.frames: list[Frame] = list(frames or [])

    def render(self) -> str:
        """`error: message`, then one `in function (file:line)` per frame,
        outermost first, each followed by its source line when known. Runs
        of one repeated frame (recursion) are folded, and a very deep stack
        shows only its outermost and innermost frames."""
        lines = [f"error: {self.message}"]
        for entry in _shown_entries(self.frames):
            if isinstance(entry, str):
                lines.append(f"  {entry}")
                continue
            lines.append(f"  {entry}")
            if entry.text:
                lines.append(f"      {entry.text}")
        return "\n".join(lines)

    def with_sources(self, sources: dict[str, str]) -> "NplRuntimeError":
        """Attach each frame's source line (from file name -> text)."""
        from dataclasses import replace
        self.frames = [replace(f, text=_source_line(sources.get(f.file), f.line))
                       for f in self.frames]
        return self

    @property
    def location(self) -> Optional[Frame]:
        """The innermost NPL frame, where the error happened."""
        return self.frames[-1] if self.frames else None

    def __str__(self) -> str:
        return self.render()


# The kinds that mean "a limit stopped the program" rather than "the program
# is wrong": the filler tells a candidate that ran into one so.
LIMIT_KINDS = frozenset({"step_limit", "time_limit", "memory", "output_limit", "stack_overflow"})


SHOWN_FRAMES = 20              # at each end of a deep stack


def _shown_entries(frames: list[Frame]) -> list:
    """Frames to print, with notes (str) standing in for folded ones."""
    entries: list = []
    i = 0
    while i < len(frames):
        j = i
        while j + 1 < len(frames) and frames[j + 1] == frames[i]:
            j += 1
        entries.append(frames[i])
        if j > i:
            entries.append(f"[the call above repeated {j - i} more time(s)]")
        i = j + 1
    if len(entries) > 2 * SHOWN_FRAMES:
        hidden = len(entries) - 2 * SHOWN_FRAMES
        entries = entries[:SHOWN_FRAMES] + [f"... {hidden} more frames ..."] \
            + entries[-SHOWN_FRAMES:]
    return entries


# The lexer's line breaks (see lang/diagnostics.split_lines, not imported
# here to keep the run-from-cache path light): str.splitlines() would also
# break at form feeds, U+2028 and the like, quoting the wrong line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _source_line(source: Optional[str], line: int) -> str:
    if not source or line < 1:
        return ""
    lines = _LINE_BREAK.split(source)
    return lines[line - 1].strip() if line <= len(lines) else ""


def npl_frames(tb: Optional[TracebackType], npl_files: Iterable[str]) -> list[Frame]:
    """The NPL frames of a traceback, outermost first."""
    from .frames import Frame
    files = set(npl_files)
    frames: list[Frame] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in files and code.co_name not in _HIDDEN_CODE_NAMES:
            frames.append(Frame(code.co_name, code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def translate(exc: BaseException, npl_files: Iterable[str],
              describe: Callable[[object], str] = repr,
              rename: Callable[[str], str] = lambda name: name) -> NplRuntimeError:
    """Turn an exception escaping generated code into an NplRuntimeError.

    `describe` renders an NPL value (used for missing dict keys); `rename`
    maps a generated name back to its NPL name."""
    frames = npl_frames(exc.__traceback__, npl_files)
    if isinstance(exc, NplRuntimeError):
        exc.frames = frames or exc.frames
        return exc
    kind, message = classify(exc, describe, rename)
    return NplRuntimeError(kind, message, frames)


def classify(exc: BaseException, describe: Callable[[object], str],
             rename: Callable[[str], str]) -> tuple[str, str]:
    """(kind, message) for a Python exception raised by generated code: the
    kind from the exception's class and typed fields, never from its text
    (which only supplies details of the message). A checked program cannot
    apply an operator to None, so a TypeError is NPL's own bug ("type")."""
    text = str(exc)
    if isinstance(exc, RecursionError):
        return "stack_overflow", "stack overflow (recursion too deep)"
    if isinstance(exc, ZeroDivisionError):
        return "zero_division", "division by zero"
    if isinstance(exc, IndexError):
        return "index", _index_message(text)
    if isinstance(exc, KeyError):
        return "key", _key_message(exc, describe)
    if isinstance(exc, AssertionError):
        return "assert", f"assertion failed: {text}" if text else "assertion failed"
    if isinstance(exc, (UnboundLocalError, NameError)):
        return "unbound", _unbound_message(text, rename)
    if isinstance(exc, AttributeError) and exc.obj is None and exc.name:
        return "none", ("None where a value was needed (reading field "
                        f"'{rename(exc.name)}' of None)")
    if isinstance(exc, OverflowError):
        detail = "result out of range" if exc.args[:1] == (errno.ERANGE,) else text
        return "overflow", f"numeric overflow: {detail}"
    if isinstance(exc, MemoryError):
        return "memory", "out of memory"
    if isinstance(exc, BrokenPipeError):
        return "output", ("standard output was closed before the program ended "
                          "(a pipe's reader stopped)")
    if isinstance(exc, ValueError):
        return "value", _value_message(text)
    return "type", f"internal type error ({type(exc).__name__}: {text}); please report this"


def _index_message(text: str) -> str:
    if "out of bounds" in text:
        return f"index out of range: {text}"
    return text or "index out of range"


def _key_message(exc: KeyError, describe: Callable[[object], str]) -> str:
    """A KeyError's argument is the missing key (set.pop of an empty set
    raises NPL's own error, stdlib/helpers.py set_pop)."""
    if not exc.args:
        return "key not found"
    return f"key not found: {describe(exc.args[0])}"


_VAR_RE = re.compile(r"'(\w+)'")


def _unbound_message(text: str, rename: Callable[[str], str]) -> str:
    match = _VAR_RE.search(text)
    name = rename(match.group(1)) if match else "?"
    return f"variable '{name}' used before it was assigned"


_VALUE_REWRITES = (
    ("math domain error", "math domain error (argument outside the function's domain)"),
    ("substring not found", "substring not found"),
)


_DIGITS_RE = re.compile(r"for integer string conversion(?:: value has (\d+) digits)?")


def _value_message(text: str) -> str:
    for needle, message in _VALUE_REWRITES:
        if needle == text:
            return message
    digits = _DIGITS_RE.search(text)
    if digits:                          # Python's guard against quadratic conversions
        size = f" ({digits.group(1)} digits)" if digits.group(1) else ""
        return (f"integer too long to convert between int and str{size}: the limit is "
                f"{sys.get_int_max_str_digits()} digits, as in Python")
    return text or "invalid value"

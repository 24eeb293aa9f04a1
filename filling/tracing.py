"""Execution traces of a candidate fill, for the repair prompt (after LDB,
"Debug like a Human", which shows a model the values of its variables at
each basic block of a failing run).

`trace_call` re-runs one failing example under `sys.settrace`, recording the
local variables of the fill's frames whenever execution enters a new block
(the first statement of the function, of a loop body or branch, or the
statement after a loop). The result is a short text table keyed by the
fill's own line numbers.
"""
from __future__ import annotations

import sys

from npl.lang.diagnostics import split_lines

from npl.compiler import ir

MAX_ROWS = 24
MAX_VALUE = 80


def block_starts(comp, spec) -> set[int]:
    """Lines (in the fill's virtual file) that begin a basic block."""
    lines: set[int] = set()
    from npl.compiler.fills import fill_path
    path = fill_path(spec)
    for fn in comp.module.functions:
        if fn.span.file != path:
            continue
        collect_blocks(fn.body, lines)
    return lines


def collect_blocks(body: list, out: set[int]) -> None:
    if body:
        out.add(body[0].span.line)
    for i, s in enumerate(body):
        nested = []
        if isinstance(s, ir.If):
            nested = [s.body, s.orelse]
        elif isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
            nested = [s.body]
            if i + 1 < len(body):
                out.add(body[i + 1].span.line)
        for b in nested:
            collect_blocks(b, out)


def short(value) -> str:
    from npl.runtime.values import npl_repr
    text = npl_repr(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 3] + "..."


def trace_call(comp, spec, program, test: ir.TestCase) -> str:
    from npl.runtime.codegen import demangle

    from npl.compiler.fills import fill_path
    path = fill_path(spec)
    starts = block_starts(comp, spec)
    fill_lines = split_lines(comp.sources.get(path, ""))
    rows: list[str] = []

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != path or frame.f_code.co_name.startswith("<"):
            return None
        if event == "line" and frame.f_lineno in starts and len(rows) < MAX_ROWS:
            values = ", ".join(f"{demangle(k)}={short(v)}" for k, v in frame.f_locals.items()
                               if k[:2] in ("v_", "w_"))
            code = fill_lines[frame.f_lineno - 1].strip() if frame.f_lineno <= len(fill_lines) else ""
            rows.append(f"    line {frame.f_lineno}: {code:<40} | {values}")
        return tracer

    from npl.runtime.execution import run_deep

    def traced():
        sys.settrace(tracer)
        try:
            program.run_test(test)
        except Exception:
            pass
        finally:
            sys.settrace(None)
    run_deep(traced)
    if not rows:
        return ""
    more = "\n    ..." if len(rows) >= MAX_ROWS else ""
    return "Trace of your code on that example (variables at the start of each block):\n" + \
        "\n".join(rows) + more

"""Running the checks of a compiled candidate: (Compilation, hole, limits)
in, a `Verdict` out; with `Limits`, the bounds every check runs within.

`run_checks` runs every example and property that exercises the hole (the
enclosing function's and those of its callers, held-out ones included)
within the step, time and memory limits; it runs inside the sandbox worker
(filling/sandbox.py), which filling/candidate.py's `verify` sends each
compiled candidate to. A failure is described in the words the repair prompt
sends back: the failing example with expected and actual values and a trace
of the candidate's variables at each block of its execution (after LDB);
a held-out example's failure without its text.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

from npl.lang.diagnostics import split_lines

from npl.compiler import ir
from npl.compiler.driver import Compilation
from npl.compiler.holes import HoleSpec

from .settings import Limits


@dataclass
class Verdict:
    accepted: bool
    stage: str                          # "compile" | "gaming" | "test" | "limit" | "ok"
    feedback: str = ""                  # for the repair prompt and the final error
    comp: Optional[Compilation] = None
    passed: list[str] = field(default_factory=list)
    new_holes: list[HoleSpec] = field(default_factory=list)
    error: str = ""                     # the failing check's run-time error kind, if any
    failed: str = ""                    # "example" | "property": what the failing check is
    finding: str = ""                   # what failed, without the trace (feedback is both)
    fill: str = ""                      # the candidate as checked (with the compiler's fixes)
    fixes: list[str] = field(default_factory=list)     # those fixes, described


def test_ids(spec: HoleSpec) -> set[str]:
    out = set()
    for t in spec.tests + spec.caller_tests:
        out.add(f"{t.decl.span.file}:{t.decl.span.line}")
    return out


LIMIT_HINT = ("It ran into a verification limit (steps, time, memory, output or recursion "
              "depth): look for a loop that never ends, recursion without a base case, or a "
              "value (list, string, number) that grows without bound.")
HELD_OUT = ("It fails a held-out example: one of the hole's examples that is not shown to you. "
            "Your code handles the examples you were given but is not correct in general; "
            "re-read the description and handle every case it describes.")


def run_checks(comp: Compilation, spec: HoleSpec, limits: Limits,
               hidden: frozenset = frozenset()) -> Verdict:
    """Run the examples and properties that exercise `spec`; a failure of a
    held-out example (`hidden`) is reported without revealing it."""
    from npl.runtime.codegen import load
    from npl.runtime.errors import LIMIT_KINDS
    from npl.runtime.testing import run_tests
    ids = test_ids(spec)
    if not ids:
        return Verdict(True, "ok", "", comp)
    start = time.monotonic()
    program = load(comp.module, sources=comp.sources, step_limit=limits.steps,
                   time_limit=limits.seconds)
    only = (lambda t: f"{t.span.file}:{t.span.line}" in ids)
    results = run_tests(program, comp.module, max_examples=limits.max_examples, only=only)
    failed = [r for r in results if not r.passed]
    if not failed:
        from .gaming import behaviour_problem       # runs the candidate away from its examples
        gaming = behaviour_problem(comp, spec, limits, hidden, probe_seconds(limits, start))
        if gaming:
            return Verdict(False, "gaming", gaming, comp, passed=[r.name for r in results])
        return Verdict(True, "ok", "", comp, passed=[r.name for r in results])
    # report a failure the model may see before a held-out one
    failed.sort(key=lambda r: r.location in hidden)
    first = failed[0]
    stage = "limit" if first.error in LIMIT_KINDS else "test"
    hint = "\n" + LIMIT_HINT if stage == "limit" else ""
    if first.location in hidden:
        finding = detail = HELD_OUT + hint
    else:
        finding, trace = describe_failure(comp, spec, program, first)
        detail = "\n".join(filter(None, (finding, trace))) + hint
        finding += hint
    return Verdict(False, stage, detail, comp, passed=[r.name for r in results if r.passed],
                   error=first.error, failed=first.kind, finding=finding)


def probe_seconds(limits: Limits, start: float) -> float:
    """Time the gaming probes may take without the job missing the sandbox's
    deadline (`Limits.job_seconds`): half of what is left of it,
    less a margin, since one probe call may overrun the probes' budget by
    as much as the budget itself."""
    return (limits.job_seconds() - (time.monotonic() - start) - DEADLINE_MARGIN) / 2


DEADLINE_MARGIN = 2.0       # seconds kept for compiling the job and replying


def describe_failure(comp: Compilation, spec: HoleSpec, program, result) -> tuple[str, str]:
    """(what failed: where, the check's text and how it failed; the trace of
    the candidate on that example, or "")."""
    test = next((t for t in comp.module.tests if t.name == result.name), None)
    lines = [f"It fails {'the example' if test is not None and test.kind == 'example' else ''} "
             f"at {result.location}:".replace("  ", " ")]
    source_text = example_text(comp, test) if test is not None else ""
    if source_text:
        lines.append(f"    {source_text}")
    lines.append(f"    {result.message}")
    trace = ""
    if test is not None and test.kind == "example":
        trace = trace_example(comp, spec, program, test)
    return "\n".join(lines), trace


def example_text(comp: Compilation, test: ir.TestCase) -> str:
    src = comp.sources.get(test.span.file, "")
    all_lines = split_lines(src)
    if 0 < test.span.line <= len(all_lines):
        return all_lines[test.span.line - 1].strip()
    return ""


def trace_example(comp: Compilation, spec: HoleSpec, program, test: ir.TestCase) -> str:
    from .tracing import trace_call
    return trace_call(comp, spec, program, test)

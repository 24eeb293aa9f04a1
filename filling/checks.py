"""Verifying a candidate fill: (program, fills so far, hole, candidate) in,
a `Verdict` out.

A candidate is accepted only if the whole program compiles with it (parse,
types, signature, kernel rules), its text is not test-gaming, every example
and property that exercises the hole — the enclosing function's and those
of its callers, held-out ones included — passes within the step, time and
memory limits, and its behaviour away from the examples is not test-gaming
either (filling/gaming.py). Compiling runs none of the candidate's
code; running the checks happens in a limited worker process
(filling/sandbox.py). A rejected candidate's Verdict says why in the
words the repair prompt sends back: the diagnostic with its caret, or the
failing example with expected and actual values and a trace of the
candidate's variables at each block of its execution (after LDB).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

from npl.lang.diagnostics import CompileError, split_lines

from npl.compiler import ir
from npl.compiler.driver import Compilation, compile
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


def test_ids(spec: HoleSpec) -> set[str]:
    out = set()
    for t in spec.tests + spec.caller_tests:
        out.add(f"{t.decl.span.file}:{t.decl.span.line}")
    return out


def compile_candidate(source: str, path: str, fills: dict[str, str], spec: HoleSpec,
                      candidate: str) -> tuple[Optional[Compilation], str]:
    trial = dict(fills)
    trial[spec.key] = candidate
    try:
        comp = compile(source, path, fills=trial, strict_fills=True)
    except CompileError as err:
        return None, "It does not compile:\n" + err.render()
    return comp, ""


MAX_FILL_CHARS = 32_000         # a fill (with its helpers) longer than this is refused
DEFAULT_MAX_SUBHOLES = 4        # holes one fill may open ([fill] max_subholes)


def verify(source: str, path: str, fills: dict[str, str], spec: HoleSpec, candidate: str,
           limits: Limits, *, allow_new_holes: bool = False,
           hidden: frozenset = frozenset(), max_new_holes: int = DEFAULT_MAX_SUBHOLES,
           defer_tests: bool = False) -> Verdict:
    """Compile and test `candidate` as the fill of `spec`. `hidden` holds
    the ids ("file:line") of held-out examples: they are checked, but a
    failure of one is reported without its text, inputs or values. With
    `allow_new_holes`, the fill may open up to `max_new_holes` holes of its
    own (it is then accepted untested: the filler fills them and checks the
    whole). With `defer_tests`, a fill that compiles is accepted untested:
    its siblings are not filled yet, and the whole is checked once they are."""
    if len(candidate) > MAX_FILL_CHARS:
        return Verdict(False, "compile", f"The fill is {len(candidate):,} characters long; a "
                       f"fill may be at most {MAX_FILL_CHARS:,}: write it shorter.")
    comp, problem = compile_candidate(source, path, fills, spec, candidate)
    if comp is None:
        return Verdict(False, "compile", problem)
    from .gaming import gaming_problem
    gaming = gaming_problem(comp, spec, candidate)
    if gaming:
        return Verdict(False, "gaming", gaming, comp)
    new = [h for h in comp.unfilled if h.key != spec.key and h.depth > spec.depth]
    if new and not allow_new_holes:
        return Verdict(False, "compile", "The fill contains holes of its own ("
                       + ", ".join(h.name for h in new) + "); write the code instead.", comp)
    if len(new) > max_new_holes:
        return Verdict(False, "compile", f"The fill opens {len(new)} holes of its own ("
                       + ", ".join(h.name for h in new) + f"); a fill may open at most "
                       f"{max_new_holes} (max_subholes in npl.toml [fill]): write more of the "
                       "code yourself.", comp)
    if new:
        return Verdict(True, "ok", "", comp, new_holes=new)
    if defer_tests or not test_ids(spec):
        return Verdict(True, "ok", "", comp)
    from .sandbox import run_checks_isolated
    trial = dict(fills)
    trial[spec.key] = candidate
    reply = run_checks_isolated(source, path, trial, spec.key, limits, hidden)
    return Verdict(reply["accepted"], reply["stage"], reply["feedback"], comp, passed=reply["passed"],
                   error=reply.get("error", ""), failed=reply.get("failed", ""))


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
    if first.location in hidden:
        detail = HELD_OUT + ("\n" + LIMIT_HINT if stage == "limit" else "")
    else:
        detail = describe_failure(comp, spec, program, first)
        if stage == "limit":
            detail += "\n" + LIMIT_HINT
    return Verdict(False, stage, detail, comp, passed=[r.name for r in results if r.passed],
                   error=first.error, failed=first.kind)


def probe_seconds(limits: Limits, start: float) -> float:
    """Time the gaming probes may take without the job missing the sandbox's
    deadline (filling/sandbox.py job_deadline): half of what is left of it,
    less a margin, since one probe call may overrun the probes' budget by
    as much as the budget itself."""
    from .sandbox import job_deadline
    return (job_deadline(limits) - (time.monotonic() - start) - DEADLINE_MARGIN) / 2


DEADLINE_MARGIN = 2.0       # seconds kept for compiling the job and replying


def describe_failure(comp: Compilation, spec: HoleSpec, program, result) -> str:
    test = next((t for t in comp.module.tests if t.name == result.name), None)
    lines = [f"It fails {'the example' if test is not None and test.kind == 'example' else ''} "
             f"at {result.location}:".replace("  ", " ")]
    source_text = example_text(comp, test) if test is not None else ""
    if source_text:
        lines.append(f"    {source_text}")
    lines.append(f"    {result.message}")
    if test is not None and test.kind == "example":
        trace = trace_example(comp, spec, program, test)
        if trace:
            lines.append(trace)
    return "\n".join(lines)


def example_text(comp: Compilation, test: ir.TestCase) -> str:
    src = comp.sources.get(test.span.file, "")
    all_lines = split_lines(src)
    if 0 < test.span.line <= len(all_lines):
        return all_lines[test.span.line - 1].strip()
    return ""


def trace_example(comp: Compilation, spec: HoleSpec, program, test: ir.TestCase) -> str:
    from .tracing import trace_call
    return trace_call(comp, spec, program, test)

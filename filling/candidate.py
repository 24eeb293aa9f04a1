"""Verifying a candidate fill: (program, fills so far, hole, candidate) in,
a `Verdict` out.

A candidate is accepted only if the whole program compiles with it (parse,
types, signature, kernel rules), it is not test-gaming (filling/gaming.py),
and every example and property that exercises the hole passes within the
limits (filling/checks.py). A model's candidate that does not compile is
compiled again with the fixes its errors carry made (lang/diagnostics.py
`Fix`: `int(...)` around a float where an int is expected, a variable given
another type renamed from there on), up to FIX_ROUNDS times; if that
compiles, the fixed text is what is checked and kept (`Verdict.fill`,
`Verdict.fixes`). Compiling runs none of the candidate's code, so
it happens here, in process; running the checks happens in a limited worker
process (filling/sandbox.py). A rejected candidate's Verdict says why in the
words the repair prompt sends back: the diagnostic with its caret, or the
failing example (filling/checks.py).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from npl.lang.diagnostics import CompileError, apply_fixes

from npl.compiler.driver import Compilation, compile
from npl.compiler.fills import fill_path
from npl.compiler.holes import HoleSpec

from .checks import Verdict, test_ids
from .settings import Limits
from .gaming import gaming_problem
from .sandbox import run_checks_isolated


class Compiled(NamedTuple):
    comp: Optional[Compilation]         # None: it does not compile
    problem: str                        # why not, for the repair prompt
    candidate: str                      # the text compiled (with `fixes` made)
    fixes: list[str]                    # the compiler's fixes made, described


def compile_candidate(source: str, path: str, fills: dict[str, str], spec: HoleSpec,
                      candidate: str, *, fix: bool = False) -> Compiled:
    """The program compiled with `candidate` as `spec`'s fill. With `fix`,
    a candidate that does not compile is compiled again with the fixes its
    errors carry made, up to FIX_ROUNDS times (a renamed variable may then
    need `int(...)`); if it still does not compile, the problem is the
    original's: that is the code the model wrote."""
    try:
        return Compiled(compile(source, path, fills={**fills, spec.key: candidate},
                                strict_fills=True), "", candidate, [])
    except CompileError as err:
        problem, diagnostics = "It does not compile:\n" + err.render(), err.diagnostics
    text, made = candidate, []
    for _ in range(FIX_ROUNDS if fix else 0):
        fixed = apply_fixes(text, diagnostics, fill_path(spec))
        if fixed is None:
            break
        text, made = fixed[0], made + fixed[1]
        try:
            return Compiled(compile(source, path, fills={**fills, spec.key: text},
                                    strict_fills=True), "", text, made)
        except CompileError as err:
            diagnostics = err.diagnostics
    return Compiled(None, problem, candidate, [])


FIX_ROUNDS = 3


MAX_FILL_CHARS = 32_000         # a fill (with its helpers) longer than this is refused
DEFAULT_MAX_SUBHOLES = 4        # holes one fill may open ([fill] max_subholes)


def verify(source: str, path: str, fills: dict[str, str], spec: HoleSpec, candidate: str,
           limits: Limits, *, allow_new_holes: bool = False,
           hidden: frozenset = frozenset(), max_new_holes: int = DEFAULT_MAX_SUBHOLES,
           defer_tests: bool = False, fix: bool = False) -> Verdict:
    """Compile and test `candidate` as the fill of `spec`. `hidden` holds
    the ids ("file:line") of held-out examples: they are checked, but a
    failure of one is reported without its text, inputs or values. With
    `allow_new_holes`, the fill may open up to `max_new_holes` holes of its
    own (it is then accepted untested: the filler fills them and checks the
    whole). With `defer_tests`, a fill that compiles is accepted untested:
    its siblings are not filled yet, and the whole is checked once they are.
    With `fix`, the compiler's fixes are made (see compile_candidate) and
    the Verdict's `fill` is the text checked."""
    if len(candidate) > MAX_FILL_CHARS:
        return Verdict(False, "compile", f"The fill is {len(candidate):,} characters long; a "
                       f"fill may be at most {MAX_FILL_CHARS:,}: write it shorter.")
    compiled = compile_candidate(source, path, fills, spec, candidate, fix=fix)
    if compiled.comp is None:
        return Verdict(False, "compile", compiled.problem)
    verdict = checked(source, path, fills, spec, compiled.candidate, compiled.comp, limits,
                      allow_new_holes=allow_new_holes, hidden=hidden,
                      max_new_holes=max_new_holes, defer_tests=defer_tests)
    verdict.fill, verdict.fixes = compiled.candidate, compiled.fixes
    return verdict


def checked(source: str, path: str, fills: dict[str, str], spec: HoleSpec, candidate: str,
            comp: Compilation, limits: Limits, *, allow_new_holes: bool, hidden: frozenset,
            max_new_holes: int, defer_tests: bool) -> Verdict:
    """verify's checks of a `candidate` that compiled (`comp`)."""
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
    trial = dict(fills)
    trial[spec.key] = candidate
    reply = run_checks_isolated(source, path, trial, spec.key, limits, hidden)
    return Verdict(reply["accepted"], reply["stage"], reply["feedback"], comp, passed=reply["passed"],
                   error=reply.get("error", ""), failed=reply.get("failed", ""),
                   finding=reply.get("finding", ""))

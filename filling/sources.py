"""Where fills come from: a hand-written lock entry, the module library,
the synthesizer, a model. Each source takes a hole (HoleSpec) and a
`FillContext` and returns an accepted `Outcome` or None (or, for a model,
raises FillFailed after its attempts). Every candidate, whatever its source,
goes through filling/candidate.py; which source's fill is used is decided
by evidence (filling/trust.py).

The model source, the repair loop, is filling/model_source.py. A fill that
contains holes of its own (decomposition) has them filled in turn, to
`max_depth`, before the whole is checked.
"""
from __future__ import annotations

import re
import textwrap
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from npl.compiler import ir
from npl.lang import ast
from npl.compiler.holes import HoleSpec

from .attempts import LIBRARY, SYNTH, AttemptLog
from .candidate import DEFAULT_MAX_SUBHOLES, verify
from .checks import Limits, Verdict, test_ids
from .library import TAMPERED
from .lockfile import MANUAL, LockEntry, Provenance

if TYPE_CHECKING:
    from .synth.search import SynthResult


@dataclass
class Outcome:
    spec: HoleSpec
    fill: str
    provenance: Provenance
    passed: list[str] = field(default_factory=list)
    sub: list["Outcome"] = field(default_factory=list)
    synth: Optional["SynthResult"] = None    # a synthesizer fill's evidence


class FillFailed(Exception):
    """One hole that a source could not fill; the filler collects them into
    a FillFailedError (the error the user sees), so this is not an NplError."""

    def __init__(self, spec: HoleSpec, reason: str, attempts: int = 0):
        self.spec = spec
        self.reason = reason
        self.attempts = attempts
        super().__init__(f"{spec.location}: could not fill hole '{spec.name}': {reason}")


class ModelUnavailable(FillFailed):
    """The model itself failed (a local model that crashed or hung, a
    request that timed out): not a judgement on the hole."""


class CallBudget:
    """The model calls one hole may still make, the calls of the sub-holes
    its fills open included ([fill] max_calls in npl.toml): a fill that
    opens holes that open holes cannot multiply the calls without end."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Count one call; False (and nothing counted) when none is left."""
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True


@dataclass
class FillContext:
    source: str
    path: str
    fills: dict[str, str]               # accepted fills so far (key -> source)
    limits: Limits
    visible: Callable[[HoleSpec], list]          # TestInfos the prompt may show
    program_context: Callable[[HoleSpec], list[str]]
    enclosing_source: Callable[[HoleSpec], str]
    max_depth: int = 2
    program: object = None              # the CheckedProgram (for example texts)
    on_event: Callable[[HoleSpec, str], None] = lambda spec, msg: None
    warn: Callable[[str], None] = lambda message: None      # said once per run by the filler
    max_subholes: int = DEFAULT_MAX_SUBHOLES     # holes one fill may open
    calls: CallBudget = field(default_factory=lambda: CallBudget(24))
    defer_tests: bool = False           # a sub-hole with siblings: tested with them, later
    attempts: AttemptLog = field(default_factory=AttemptLog)    # where every try is recorded


def signature_line(spec: HoleSpec) -> str:
    return spec.signature + ":"


def body_as_fill(spec: HoleSpec, body: str) -> str:
    return signature_line(spec) + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def check(ctx: FillContext, spec: HoleSpec, candidate: str, fix: bool = False) -> Verdict:
    """`candidate` verified as `spec`'s fill; with `fix` (model-written
    code), after the compiler's own fixes (filling/candidate.py)."""
    return verify(ctx.source, ctx.path, ctx.fills, spec, candidate, ctx.limits,
                  allow_new_holes=spec.depth < ctx.max_depth, hidden=held_out_ids(ctx, spec),
                  max_new_holes=ctx.max_subholes, defer_tests=ctx.defer_tests, fix=fix)


def held_out_ids(ctx: FillContext, spec: HoleSpec) -> frozenset:
    """Ids ("file:line") of the hole's examples that its prompt leaves out."""
    shown = {id(t) for t in ctx.visible(spec)}
    return frozenset(f"{t.decl.span.file}:{t.decl.span.line}" for t in spec.tests
                     if id(t) not in shown and isinstance(t.decl, ast.Example))


# ---------------------------------------------------------------- library

def from_library(ctx: FillContext, spec: HoleSpec, library, judge=None) -> Optional[Outcome]:
    """The first library entry (same signature, related description) that
    passes the hole's own checks and is judged to mean what the hole asks
    for: `judge(spec, entry)` gives a filling/meaning.py Judgement (by
    default the wording rule used without a model). Never for a hole
    without checks (no example or property exercises it): nothing would
    vouch for the entry. Entries whose hash or signature does not verify
    are skipped and reported through `ctx.warn`; an unverified (imported)
    entry that is reused is marked verified. The provenance names the entry
    and its origin in this library, not what the entry claims about
    itself, and the meaning judgement."""
    from .meaning import judge_by_wording
    judge = judge or judge_by_wording
    if spec.kind != "function":
        return None
    if library is None:
        ctx.on_event(spec, "library: turned off (NPL_LIBRARY=off) or unavailable")
        return None
    if not test_ids(spec):
        ctx.on_event(spec, "library: not used: no example or property checks this hole, so "
                           "nothing would vouch for an entry")
        return None
    try:
        result = library.search([str(t) for _, t in spec.params], str(spec.ret), spec.description)
    except Exception as exc:            # a broken library never blocks filling
        ctx.warn(f"module library search failed: {exc}")
        return None
    for entry_id in result.tampered:
        ctx.warn(f"library entry {entry_id} {TAMPERED}; it is ignored (remove it with "
                 f"`npl library remove {entry_id}`)")
    if not result.candidates:
        ctx.on_event(spec, "library: no entry with this signature and a related description")
        return None
    for entry in result.candidates:
        candidate = adapt_library_fill(spec, entry)
        with ctx.attempts.attempt(spec, LIBRARY, detail=entry.id) as rec:
            rec.fill = candidate
            verdict = check(ctx, spec, candidate)
            rec.judge(verdict)
            if verdict.accepted and not verdict.new_holes:
                judgement = judge(spec, entry)
                if not judgement.same:
                    rec.reject("meaning", judgement.describe())
        if not verdict.accepted or verdict.new_holes:
            ctx.on_event(spec, f"library: entry {entry.id} rejected ({why(verdict)})")
            continue
        if not judgement.same:
            ctx.on_event(spec, f"library: entry {entry.id} passed the checks but is not used: "
                               f"{judgement.describe()}")
            continue
        ctx.on_event(spec, f"library: entry {entry.id} ({entry.standing}) passed; "
                           f"{judgement.describe()}")
        if not entry.verified:
            try:
                library.mark_verified(entry)
            except Exception as exc:
                ctx.warn(f"could not mark library entry {entry.id} verified: {exc}")
        where = entry.id + (f", {entry.origin}" if entry.origin else "")
        return Outcome(spec, candidate, Provenance("library", library_entry=where,
                                                   evidence=judgement.evidence()),
                       verdict.passed)
    return None


def why(verdict: Verdict) -> str:
    """The stage and first line of a rejection, for progress and errors."""
    lines = [ln.strip() for ln in verdict.feedback.splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    if text.endswith(":") and len(lines) > 1:     # "It fails the example at F:L:" + the example
        text += " " + lines[1] + (f" ({lines[2]})" if len(lines) > 2 else "")
    return verdict.stage + (f": {text[:160]}" if text else "")


def adapt_library_fill(spec: HoleSpec, entry) -> str:
    """The entry's code as a fill for `spec`: used as is when the names match,
    else kept as a helper that the hole's function calls."""
    names = tuple(n for n, _ in spec.params)
    m = re.search(r"^def (\w+)\(", entry.fill, re.M)
    original = m.group(1) if m else spec.func_name
    if original == spec.func_name and tuple(entry.param_names) == names:
        return entry.fill
    call = f"{original}({', '.join(names)})"
    return entry.fill.rstrip("\n") + "\n\n" + body_as_fill(spec, f"return {call}")


# ---------------------------------------------------------------- synthesizer

def example_pairs(ctx: FillContext, spec: HoleSpec) -> tuple[list, list]:
    """Input/output pairs `(args, expected)` of the examples `f(args) ==
    expected`: (those in view, those held out of view)."""
    from npl.compiler.driver import compile
    from npl.runtime.codegen import load
    if spec.kind != "function":
        return [], []
    comp = compile(ctx.source, ctx.path, fills=ctx.fills, strict_fills=False)
    visible = {(t.decl.span.file, t.decl.span.line) for t in ctx.visible(spec)}
    hidden = {tuple(i.rsplit(":", 1)) for i in held_out_ids(ctx, spec)}
    probes = []
    for test in comp.module.tests:
        e = test.expr
        if test.kind != "example" or not (isinstance(e, ir.Compare) and e.ops == ("eq",)):
            continue
        call, expected = e.operands
        if not (isinstance(call, ir.Call) and call.func == spec.info.function.ir_name):
            continue
        where = (test.span.file, test.span.line)
        if where not in visible and (where[0], str(where[1])) not in hidden:
            continue
        tup = ir.TupleLit(ir_tuple_type(call.args), call.args, span=test.span)
        name = f"%synth:{test.name}"
        body = [ir.Return(ir.TupleLit(ir_tuple_type((tup, expected)), (tup, expected), span=test.span),
                          span=test.span)]
        comp.module.functions.append(ir.Function(name, [], ir_tuple_type((tup, expected)), body, {},
                                                 span=test.span))
        probes.append((name, where in visible))
    if not probes:
        return [], []
    program = load(comp.module, sources=comp.sources, step_limit=ctx.limits.steps,
                   time_limit=ctx.limits.seconds)
    shown, held = [], []
    for name, in_view in probes:
        try:
            args, out = program.call(name)
        except Exception:
            return [], []
        (shown if in_view else held).append((tuple(args), out))
    return shown, held


def ir_tuple_type(items):
    from npl.lang.types import TupleT
    return TupleT(tuple(x.type for x in items))


MIN_SYNTH_EXAMPLES = 3      # fewer examples leave too much room for a fluke


def from_synthesizer(ctx: FillContext, spec: HoleSpec, budget: float) -> Optional[Outcome]:
    """The synthesizer's first program that fits the examples in view and
    passes the hole's whole verification: it searches on past a candidate
    that fails a held-out example (checked on the spot) or a check (the
    sandbox), within `budget` seconds of search."""
    if spec.kind != "function":
        return None
    if budget <= 0:
        ctx.on_event(spec, "synthesizer: turned off (synth_budget = 0 in npl.toml)")
        return None
    pairs, held = example_pairs(ctx, spec)
    if len(pairs) < MIN_SYNTH_EXAMPLES:
        ctx.on_event(spec, f"synthesizer: {len(pairs)} usable example(s) `f(...) == value` "
                           f"in view, needs at least {MIN_SYNTH_EXAMPLES}")
        return None
    from .synth.search import SynthTask, Validation, synthesize
    start = time.monotonic()
    verdicts: dict[str, Verdict] = {}

    def verified(expr: str) -> bool:
        candidate = body_as_fill(spec, f"return {expr}")
        with ctx.attempts.attempt(spec, SYNTH, len(verdicts) + 1, detail=expr) as rec:
            rec.fill = candidate
            verdict = verdicts[expr] = check(ctx, spec, candidate)
            rec.judge(verdict)
        if verdict.accepted and not verdict.new_holes:
            return True
        ctx.on_event(spec, f"synthesizer: `{expr}` fits the examples in view but was "
                           f"rejected ({why(verdict)})")
        return False
    validation = Validation(held, check=verified)
    try:
        result = synthesize(SynthTask(list(spec.params), spec.ret, pairs, spec.description),
                            time_budget=budget, validation=validation)
    except Exception:          # the synthesizer is an optimisation: never fatal
        result = None
    turned_down = (f"; {len(validation.rejected)} candidate(s) that fit the examples in view "
                   f"were turned down first (`{validation.rejected[0]}`, ...)"
                   if validation.rejected else "")
    if result is None:
        with ctx.attempts.attempt(spec, SYNTH, len(verdicts) + 1) as rec:
            rec.reject("search", f"found nothing within {budget:g} s" + turned_down)
        ctx.on_event(spec, f"synthesizer: found nothing within {budget:g} s" + turned_down)
        return None
    from .evidence import synth_evidence
    properties = sum(isinstance(t.decl, ast.Property) for t in spec.tests)
    evidence = synth_evidence([out for _, out in pairs], result.held_out_passed, result.size,
                              properties)
    ctx.on_event(spec, f"synthesizer: `{result.expr}` (size {result.size}) fits the "
                       f"{result.examples_used} example(s) in view and "
                       f"{result.held_out_passed} held out" + turned_down)
    return Outcome(spec, body_as_fill(spec, f"return {result.expr}"),
                   Provenance("synth", "", validation.checks, 0, 0,
                              round(time.monotonic() - start, 3), evidence=evidence),
                   verdicts[result.expr].passed, synth=result)


# ---------------------------------------------------------------- a hand-written lock entry

def from_manual(ctx, spec: HoleSpec, entry: Optional[LockEntry]):
    """A hand-written lock entry (manual, not yet stamped) for `spec`, as an
    Outcome if it passes verification; else None (and a warning)."""
    if entry is None or not entry.needs_verification:
        return None
    with ctx.attempts.attempt(spec, MANUAL) as rec:
        rec.fill = entry.fill
        verdict = check(ctx, spec, entry.fill)
        rec.judge(verdict)
    if verdict.accepted and not verdict.new_holes:
        ctx.on_event(spec, "lock: the hand-written fill passed verification")
        return Outcome(spec, entry.fill, Provenance(MANUAL), verdict.passed)
    first = next((ln.strip() for ln in verdict.feedback.splitlines() if ln.strip()), verdict.stage)
    ctx.warn(f"the hand-written fill of '{spec.name}' in the lock file failed verification "
             f"({first}); filling it anew")
    return None

"""Where fills come from, cheapest first: the module library, the
synthesizer, then a model. Each source takes a hole (HoleSpec) and a
`FillContext` and returns an accepted `Outcome` or None (or, for a model,
raises FillFailed after its attempts). Every candidate, whatever its source,
goes through compiler/verifier.py.
"""
from __future__ import annotations

import re
import textwrap
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import ir
from .holes import HoleSpec
from .lockfile import Provenance
from .verifier import Limits, Verdict, verify


@dataclass
class Outcome:
    spec: HoleSpec
    fill: str
    provenance: Provenance
    passed: list[str] = field(default_factory=list)
    sub: list["Outcome"] = field(default_factory=list)


class FillFailed(Exception):
    def __init__(self, spec: HoleSpec, reason: str, attempts: int = 0):
        self.spec = spec
        self.reason = reason
        self.attempts = attempts
        super().__init__(f"{spec.location}: could not fill hole '{spec.name}': {reason}")


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


def signature_line(spec: HoleSpec) -> str:
    return spec.signature + ":"


def body_as_fill(spec: HoleSpec, body: str) -> str:
    return signature_line(spec) + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def check(ctx: FillContext, spec: HoleSpec, candidate: str) -> Verdict:
    return verify(ctx.source, ctx.path, ctx.fills, spec, candidate, ctx.limits,
                  allow_new_holes=spec.depth < ctx.max_depth, hidden=held_out_ids(ctx, spec))


def held_out_ids(ctx: FillContext, spec: HoleSpec) -> frozenset:
    """Ids ("file:line") of the hole's examples that its prompt leaves out."""
    shown = {id(t) for t in ctx.visible(spec)}
    return frozenset(f"{t.decl.span.file}:{t.decl.span.line}" for t in spec.tests
                     if id(t) not in shown and type(t.decl).__name__ == "Example")


# ---------------------------------------------------------------- library

def from_library(ctx: FillContext, spec: HoleSpec, library) -> Optional[Outcome]:
    """The first library entry (same signature, related description) that
    passes the hole's own checks; entries whose hash does not verify are
    skipped and reported through `ctx.warn`."""
    if spec.kind != "function":
        return None
    if library is None:
        ctx.on_event(spec, "library: turned off (NPL_LIBRARY=off) or unavailable")
        return None
    try:
        result = library.search([str(t) for _, t in spec.params], str(spec.ret), spec.description)
    except Exception as exc:            # a broken library never blocks filling
        ctx.warn(f"module library search failed: {exc}")
        return None
    for entry_id in result.tampered:
        ctx.warn(f"library entry {entry_id} was modified outside npl (its hash does not match); "
                 f"it is ignored (remove it with `npl library remove {entry_id}`)")
    if not result.candidates:
        ctx.on_event(spec, "library: no entry with this signature and a related description")
        return None
    for entry in result.candidates:
        candidate = adapt_library_fill(spec, entry)
        verdict = check(ctx, spec, candidate)
        if verdict.accepted and not verdict.new_holes:
            ctx.on_event(spec, f"library: entry {entry.id} passed")
            p = entry.provenance
            origin = p.source if not p.model or p.model in p.source else f"{p.source} ({p.model})"
            return Outcome(spec, candidate, Provenance("library", "", 0, 0, 0, 0.0,
                                                      f"{entry.id} from {origin}"), verdict.passed)
        ctx.on_event(spec, f"library: entry {entry.id} rejected ({why(verdict)})")
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

def example_pairs(ctx: FillContext, spec: HoleSpec) -> list[tuple[tuple, object]]:
    """Input/output pairs of the visible examples `f(args) == expected`."""
    from .driver import compile
    from npl.runtime.codegen import load
    if spec.kind != "function":
        return []
    comp = compile(ctx.source, ctx.path, fills=ctx.fills, strict_fills=False)
    visible = {(t.decl.span.file, t.decl.span.line) for t in ctx.visible(spec)}
    probes = []
    for test in comp.module.tests:
        e = test.expr
        if test.kind != "example" or not (isinstance(e, ir.Compare) and e.ops == ("eq",)):
            continue
        call, expected = e.operands
        if not (isinstance(call, ir.Call) and call.func == spec.info.function.ir_name):
            continue
        if (test.span.file, test.span.line) not in visible:
            continue
        tup = ir.TupleLit(ir_tuple_type(call.args), call.args, span=test.span)
        name = f"%synth:{test.name}"
        body = [ir.Return(ir.TupleLit(ir_tuple_type((tup, expected)), (tup, expected), span=test.span),
                          span=test.span)]
        comp.module.functions.append(ir.Function(name, [], ir_tuple_type((tup, expected)), body, {},
                                                 span=test.span))
        probes.append(name)
    if not probes:
        return []
    program = load(comp.module, sources=comp.sources, step_limit=ctx.limits.steps,
                   time_limit=ctx.limits.seconds)
    pairs = []
    for name in probes:
        try:
            args, out = program.call(name)
        except Exception:
            return []
        pairs.append((tuple(args), out))
    return pairs


def ir_tuple_type(items):
    from npl.lang.types import TupleT
    return TupleT(tuple(x.type for x in items))


MIN_SYNTH_EXAMPLES = 3      # fewer examples leave too much room for a fluke


def from_synthesizer(ctx: FillContext, spec: HoleSpec, budget: float) -> Optional[Outcome]:
    if spec.kind != "function":
        return None
    if budget <= 0:
        ctx.on_event(spec, "synthesizer: turned off (synth_budget = 0 in npl.toml)")
        return None
    pairs = example_pairs(ctx, spec)
    if len(pairs) < MIN_SYNTH_EXAMPLES:
        ctx.on_event(spec, f"synthesizer: {len(pairs)} usable example(s) `f(...) == value` "
                           f"in view, needs at least {MIN_SYNTH_EXAMPLES}")
        return None
    from .synth import SynthTask, synthesize
    start = time.monotonic()
    task = SynthTask(list(spec.params), spec.ret, pairs, spec.description)
    try:
        result = synthesize(task, time_budget=budget)
    except Exception:          # the synthesizer is an optimisation: never fatal
        result = None
    if result is None:
        ctx.on_event(spec, f"synthesizer: found nothing within {budget:g} s")
        return None
    candidate = body_as_fill(spec, f"return {result.expr}")
    verdict = check(ctx, spec, candidate)
    if not verdict.accepted or verdict.new_holes:
        ctx.on_event(spec, f"synthesizer: `{result.expr}` fits the examples in view but was "
                           f"rejected ({why(verdict)})")
        return None
    return Outcome(spec, candidate, Provenance("synth", "", 1, 0, 0, round(time.monotonic() - start, 3)),
                   verdict.passed)

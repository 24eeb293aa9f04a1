"""Test-gaming detection: a candidate that special-cases the examples
instead of computing the answer is rejected, whatever its text looks like.

Two checks, each taking the compiled candidate and its hole and giving back
the reason to reject it (or ""):

`behaviour_problem` (run in the sandbox worker, after every check passed)
judges what the candidate *does*. It runs the hole's function on inputs
near the examples (one character, element or unit changed: filling/probes.py)
and on new inputs of the same types and shape, for at most PROBE_SECONDS
(less when the sandbox's deadline leaves less), and rejects it when

  * it fails on every one of those inputs: it is defined only at the
    examples (`vals[keys.index(s)]`, `dict(zip(keys, vals))[s]`); or
  * away from the examples it returns one fixed value (and, near an
    example, at most that example's own answer), while the examples expect
    other answers: a lookup with a default, however it is spelled (a split
    string, a loop over (input, answer) pairs, a checksum of the input,
    prefixes of the inputs).

What it cannot tell from behaviour it leaves alone: a function returning
bool (a correct "is this a valid ISBN" is False nearly everywhere), answers
that are all the same (a constant function), and a function that maps inputs
onto the answers by some derived feature (indistinguishable from a correct
classifier); the held-out examples are the line there.

`gaming_problem` (run at compile time, in process) reads the fill's text
for the common spellings, to give the model a precise reason before anything
runs. For a parameter or a local alias of one (`t = s`, `t = s.lower()`):

  * it compares the parameter with a literal that is one of the examples'
    inputs for that parameter (`if s == "Hello": return 2`,
    `if n in (7, 12): ...`, `if "Hello" in s: ...`);
  * it looks the parameter up in a table literal whose keys are example
    inputs (`return {"Hello": 2, "AEIOU xyz": 5}[s]`,
    `table = {...}; return table.get(s, 0)`, `if s in table: ...`).

Strings are matched ignoring case and surrounding blanks (`s.lower() ==
"hello"` is the same trick). Literals that the hole's description itself
mentions, and trivial ones (0, 1, -1, 2, "", " ", booleans), are allowed.
Held-out examples count as well: special-casing an input the model was never
shown is a coincidence neither check will excuse.
"""
from __future__ import annotations

import copy
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from npl.compiler import ir
from npl.lang import ast
from npl.lang.types import BOOL, TupleT
from npl.runtime.errors import LIMIT_KINDS

TRIVIAL = {0, 1, -1, 2, "", " ", True, False, None}
LITERALS = (ast.IntLit, ast.FloatLit, ast.StrLit)
COLLECTIONS = (ast.ListExpr, ast.TupleExpr, ast.SetExpr)
ALIAS_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "casefold", "title",
                 "capitalize", "swapcase", "copy"}


def literal_value(e):
    if isinstance(e, LITERALS):
        return e.value
    if isinstance(e, ast.UnaryOp) and e.op == "-" and isinstance(e.operand, (ast.IntLit, ast.FloatLit)):
        return -e.operand.value
    return None


def normal(v):
    """The form values are matched in: strings ignoring case and blanks."""
    return v.strip().casefold() if isinstance(v, str) else v


def example_inputs(spec) -> dict[str, set]:
    """Parameter name -> literal values it takes in the hole's examples."""
    names = [n for n, _ in spec.params]
    out: dict[str, set] = {n: set() for n in names}
    target = spec.func_name if spec.kind == "function" else (spec.enclosing.name if spec.enclosing else "")
    for test in spec.tests:
        for node in ast.walk(test.decl):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == target:
                for i, arg in enumerate(node.args):
                    v = literal_value(arg)
                    if v is not None and v not in TRIVIAL and i < len(names):
                        out[names[i]].add(v)
                for k in node.keywords:
                    v = literal_value(k.value)
                    if v is not None and v not in TRIVIAL and k.name in out:
                        out[k.name].add(v)
    if spec.kind == "expression":
        every = set().union(*out.values()) if out else set()
        return {n: every for n in names}
    return out


def fill_nodes(comp, spec):
    from npl.compiler.fills import fill_path
    path = fill_path(spec)
    for fn in comp.program.funcs.values():
        decl = fn.decl
        if decl.span.file == path:
            yield from ast.walk(decl)


class Detector:
    def __init__(self, nodes: list, inputs: dict[str, set], description: str):
        self.nodes = nodes
        self.description = description.casefold()
        self.inputs = {name: {normal(v) for v in vals} for name, vals in inputs.items() if vals}
        self.aliases = self.find_aliases()
        self.tables = self.find_tables()

    # ---- which names stand for a parameter
    def find_aliases(self) -> dict[str, str]:
        """Local name -> the parameter it copies (to a fixed point)."""
        aliases = {name: name for name in self.inputs}
        changed = True
        while changed:
            changed = False
            for node in self.nodes:
                if isinstance(node, ast.Assign) and isinstance(node.target, ast.Name) \
                        and node.value is not None and node.target.id not in aliases:
                    source = self.param_of(node.value, aliases)
                    if source:
                        aliases[node.target.id] = source
                        changed = True
        return aliases

    def param_of(self, e, aliases=None) -> Optional[str]:
        """The parameter `e` is (a possibly case-folded or stripped copy of)."""
        aliases = self.aliases if aliases is None else aliases
        while isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and not e.args \
                and e.func.attr in ALIAS_METHODS:
            e = e.func.value
        if isinstance(e, ast.Name):
            return aliases.get(e.id)
        return None

    def suspicious(self, param: str, v) -> bool:
        return v is not None and v not in TRIVIAL and normal(v) in self.inputs.get(param, ()) \
            and str(normal(v)) not in self.description

    # ---- table literals keyed on example inputs
    def find_tables(self) -> dict[str, ast.DictExpr]:
        """Local names bound to dict literals."""
        return {node.target.id: node.value for node in self.nodes
                if isinstance(node, ast.Assign) and isinstance(node.target, ast.Name)
                and isinstance(node.value, ast.DictExpr)}

    def table(self, e) -> Optional[ast.DictExpr]:
        if isinstance(e, ast.DictExpr):
            return e
        if isinstance(e, ast.Name):
            return self.tables.get(e.id)
        return None

    def gamed_keys(self, table: ast.DictExpr, param: str) -> list:
        return [literal_value(k) for k in table.keys if self.suspicious(param, literal_value(k))]

    # ---- the checks
    def problem(self) -> str:
        for node in self.nodes:
            found = None
            if isinstance(node, ast.Compare):
                found = self.compare(node)
            elif isinstance(node, ast.Index) and len(node.indices) == 1:
                found = self.lookup(node.value, node.indices[0], node)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("get", "pop", "setdefault") and node.args:
                found = self.lookup(node.func.value, node.args[0], node)
            if found:
                return found
        return ""

    def compare(self, node: ast.Compare) -> str:
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            a, b = operands[i], operands[i + 1]
            for x, y in ((a, b), (b, a)):
                param = self.param_of(x)
                if not param:
                    continue
                values = []
                if op in ("==", "!="):
                    values = [literal_value(y)]
                elif op in ("in", "not in") and x is a and isinstance(y, COLLECTIONS):
                    values = self.listed_inputs(param, y)
                elif op in ("in", "not in") and x is b:          # "Hello" in s
                    values = [literal_value(y)]
                for v in values:
                    if self.suspicious(param, v):
                        return (f"line {node.span.line} compares `{param}` with {v!r}, "
                                "one of the example inputs")
            if op in ("in", "not in"):                        # s in {"Hello": 2}
                table, param = self.table(b), self.param_of(a)
                if table is not None and param and self.gamed_keys(table, param):
                    return self.table_message(node, param, self.gamed_keys(table, param))
        return ""

    def listed_inputs(self, param: str, collection) -> list:
        """The literals of `param in (a, b, ...)` to judge: all of them when
        at least half of the non-trivial ones are example inputs, else none:
        a list of domain values that holds an example input among others
        (`month in [1, 3, 5, 7, 8, 10, 12]`) is no special case."""
        values = [literal_value(el) for el in collection.elts]
        telling = [v for v in values if v is not None and v not in TRIVIAL]
        hits = [v for v in telling if self.suspicious(param, v)]
        return values if 2 * len(hits) >= len(telling) else []

    def lookup(self, container, key, node) -> str:
        table, param = self.table(container), self.param_of(key)
        if table is None or not param:
            return ""
        keys = self.gamed_keys(table, param)
        return self.table_message(node, param, keys) if keys else ""

    @staticmethod
    def table_message(node, param: str, keys: list) -> str:
        shown = ", ".join(repr(k) for k in keys[:3])
        return (f"line {node.span.line} looks `{param}` up in a table whose keys are example "
                f"inputs ({shown}): it returns the expected answers instead of computing them")


def gaming_problem(comp, spec, candidate: str) -> str:
    inputs = example_inputs(spec)
    if not any(inputs.values()):
        return ""
    found = Detector(list(fill_nodes(comp, spec)), inputs, spec.description).problem()
    if not found:
        return ""
    return (f"Rejected as test-gaming: {found}. Write general code that works for every "
            "input, not just the examples.")


# ---------------------------------------------------------------- behaviour

PROBE_SECONDS = 3.0         # most wall time the probes of one candidate take
MIN_SECONDS = 0.2           # with less time left, no probing
NEAR_PER_EXAMPLE = 16       # inputs near each example
NEAR_LIMIT = 96             # inputs near the examples in all
GENERATED = 48              # new inputs of the same shape
MIN_PROBES = 12             # fewer finished probes decide nothing
STICKY_SHARE = 1 / 3        # new inputs may get an example's answer this often
ADVICE = "Write general code that works for every input, not just the examples."


@dataclass
class Probe:
    args: tuple
    near: int                       # index of the example it is near; -1: a new input
    shown: bool                     # derived from an example the prompt shows
    output: Optional[str] = None    # npl_repr of the result; None when it failed
    error: str = ""

    @property
    def generated(self) -> bool:
        return self.near < 0


@dataclass
class Behaviour:
    """What a candidate did: its answers at the example inputs and at the
    probes that finished (a probe stopped by a limit decides nothing)."""
    name: str                       # the function, for messages
    predicate: bool                 # it returns bool
    answers: list[str]              # npl_repr of each example's result
    shown: list[bool]               # whether the prompt shows each example
    probes: list[Probe] = field(default_factory=list)


def behaviour_problem(comp, spec, limits, hidden: frozenset = frozenset(),
                      seconds: float = PROBE_SECONDS) -> str:
    """Why the candidate in `comp` games the examples of `spec`, judged by
    running it (see the module docstring); "" when it does not or when
    there is too little to judge. Runs candidate code: call it only in the
    sandbox worker. `hidden`: ids ("file:line") of held-out examples,
    whose inputs and answers a message must not show. `seconds`: the wall
    time the probes may take (each call at most that long too), capped at
    PROBE_SECONDS and the per-call time limit."""
    seconds = min(seconds, PROBE_SECONDS, limits.seconds)
    if seconds < MIN_SECONDS:
        return ""
    behaviour = observe(comp, spec, limits, hidden, seconds)
    if behaviour is None:
        return ""
    found = judge(behaviour)
    return f"Rejected as test-gaming: {found}. {ADVICE}" if found else ""


def judge(b: Behaviour) -> str:
    """The rule (see the module docstring); "" when it finds nothing."""
    if len(b.probes) < MIN_PROBES:
        return ""
    ok = [p for p in b.probes if p.output is not None]
    if not ok:
        return (f"it answers only the example inputs: it fails on all {len(b.probes)} other "
                f"inputs it was tried on{example_call(b, b.probes)}")
    if b.predicate:
        return ""
    default = default_answer(ok)
    special = sorted(set(b.answers) - {default})
    if len(special) < 2 or not answers_stick_to_examples(b, ok, default):
        return ""
    expected = sorted({a for a, shown in zip(b.answers, b.shown) if shown and a != default})
    return (f"it computes nothing away from the examples: on {len(ok)} other inputs (near the "
            f"examples and new ones) it returns {default}, or the answer of the example the "
            f"input is next to{example_call(b, ok, default)}, while the examples expect other "
            f"answers" + (f" ({', '.join(expected[:4])}{', ...' if len(expected) > 4 else ''})"
                          if expected else ""))


def default_answer(ok: list[Probe]) -> str:
    """What the function returns most often on new inputs (else near the examples)."""
    generated = [p.output for p in ok if p.generated]
    return Counter(generated or [p.output for p in ok]).most_common(1)[0][0]


def answers_stick_to_examples(b: Behaviour, ok: list[Probe], default: str) -> bool:
    """True when nothing but `default` is computed away from the examples:
    no output is new (neither an example's answer nor the default); near an
    example, only that example's own answer or the default comes out (a
    correct classifier crosses into a neighbouring example's answer); and on
    new inputs the default dominates (STICKY_SHARE)."""
    answers = set(b.answers)
    if any(p.output not in answers and p.output != default for p in ok):
        return False
    if any(p.output not in (default, b.answers[p.near]) for p in ok if not p.generated):
        return False
    generated = [p.output for p in ok if p.generated]
    return sum(out != default for out in generated) <= STICKY_SHARE * len(generated)


def example_call(b: Behaviour, probes: list[Probe], output: Optional[str] = None) -> str:
    """` (e.g. f("Hellp") returns 0)`, for a probe (preferably one that
    returned `output`) whose input may be shown: one near a shown example,
    or a new one when no example is held out."""
    from npl.runtime.values import npl_repr
    showable = [p for p in probes if p.shown or (p.generated and all(b.shown))]
    p = next((p for p in showable if p.output == output), None) or next(iter(showable), None)
    if p is None:
        return ""
    call = f"{b.name}({', '.join(npl_repr(a) for a in p.args)})"
    if p.output is not None:
        return f" (e.g. {call} returns {p.output})"
    return f" (e.g. {call}: {p.error})"


def observe(comp, spec, limits, hidden: frozenset, seconds: float) -> Optional[Behaviour]:
    """Run the hole's function at its example inputs and at probes near
    them and like them; None when it has no `f(...) == value` examples, no
    parameters, a parameter type no value can be made of, or an example
    input that cannot be computed again. The probes are a check of their
    own: a failure to make or run them never rejects a candidate."""
    from npl.runtime.codegen import load
    info = spec.info.function if spec.kind == "function" else spec.enclosing
    calls = example_calls(comp.module, info.ir_name) if info is not None and info.params else []
    if not calls:
        return None
    module, makers = with_input_makers(comp.module, calls)
    try:
        program = load(module, sources=comp.sources, step_limit=limits.steps, time_limit=seconds)
        examples = [(tuple(program.call(m)), f"{t.span.file}:{t.span.line}" not in hidden)
                    for (t, _), m in zip(calls, makers)]
    except Exception:                   # NplRuntimeError, or a limit while making an input
        return None
    behaviour = Behaviour(info.name, info.ret == BOOL, [], [shown for _, shown in examples])
    for args, _ in examples:
        done = run_probe(program, info.ir_name, Probe(args, -1, False))
        if done is None or done.output is None:
            return None
        behaviour.answers.append(done.output)
    try:
        probes = probe_inputs(module, program, info.ir_name, examples)
    except Exception:                   # probes.Unsupported: e.g. a function parameter
        return None
    deadline = time.monotonic() + seconds
    for probe in probes:
        if time.monotonic() > deadline:
            break
        done = run_probe(program, info.ir_name, probe)
        if done is not None:
            behaviour.probes.append(done)
    return behaviour


def example_calls(module: ir.Module, ir_name: str) -> list[tuple[ir.TestCase, ir.Call]]:
    """The examples `f(args) == value` (or `is value`) of function `ir_name`."""
    out = []
    for test in module.tests:
        e = test.expr
        if test.kind != "example" or not isinstance(e, ir.Compare) or e.ops not in (("eq",), ("is",)):
            continue
        for side in e.operands:
            if isinstance(side, ir.Call) and side.func == ir_name:
                out.append((test, side))
                break
    return out


def with_input_makers(module: ir.Module, calls) -> tuple[ir.Module, list[str]]:
    """`module` plus one function per example that returns its arguments."""
    functions, names = list(module.functions), []
    for i, (test, call) in enumerate(calls):
        args = ir.TupleLit(TupleT(tuple(a.type for a in call.args)), call.args, span=test.span)
        name = f"%gaming-probe:{i}"
        functions.append(ir.Function(name, [], args.type, [ir.Return(args, span=test.span)], {},
                                     span=test.span))
        names.append(name)
    return replace(module, functions=functions), names


def probe_inputs(module: ir.Module, program, ir_name: str, examples) -> list[Probe]:
    """Inputs near the examples (one argument edited), then new ones of the
    same shape; none equal to an example's input or to each other."""
    from npl.runtime.values import npl_repr
    from .probes import Generator, neighbours, spread
    types = [p.type for p in module.function(ir_name).params]
    structs = {s.name: [(f.name, f.type) for f in s.fields] for s in module.structs}
    seen = {npl_repr(args) for args, _ in examples}
    near: list[Probe] = []
    for k, (args, shown) in enumerate(examples):
        mine = [Probe(args[:i] + (n,) + args[i + 1:], k, shown)
                for i, t in enumerate(types) for n in neighbours(args[i], t, structs)]
        near += [mine[i] for i in spread(len(mine), NEAR_PER_EXAMPLE)]
    near = [near[i] for i in spread(len(near), NEAR_LIMIT)]
    classes = {s.name: program.struct_class(s.name) for s in module.structs}
    make = Generator(structs, classes)
    seeds = [[args[i] for args, _ in examples] for i in range(len(types))]
    new = [Probe(tuple(make.value(t, seeds[i]) for i, t in enumerate(types)), -1, False)
           for _ in range(GENERATED)]
    out = []
    for p in near + new:
        key = npl_repr(p.args)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def run_probe(program, ir_name: str, probe: Probe) -> Optional[Probe]:
    """`probe` with its outcome; None when a limit stopped it (or its input
    is not a value the function takes)."""
    from npl.runtime.errors import NplRuntimeError
    from npl.runtime.values import npl_repr
    try:
        result: Any = program.call(ir_name, *copy.deepcopy(probe.args))
    except NplRuntimeError as err:
        if err.kind in LIMIT_KINDS:
            return None
        return replace(probe, error=err.message)
    except Exception:
        return None
    return replace(probe, output=npl_repr(result))

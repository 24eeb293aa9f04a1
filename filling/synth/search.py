"""Example-driven synthesizer: a hole filler that needs no model.

Takes a function hole's signature (parameter names and NPL types, return
type), its input/output examples (Python values) and its English
description; gives back the smallest NPL expression over the parameters
that maps every example input to its output and that the caller's
`Validation` accepts, as source text for `return EXPR`, or None when
nothing is found within the time budget.

The search is bottom-up and type-directed (`synth_enum`): it builds every
type-correct expression size by size from the parameters and constants
(`synth_consts`) with the ops of `synth_table` and the comprehensions and
key functions of synth/forms.py, keeping one expression per distinct vector
of values over the examples (observational equivalence). Every expression
it reaches whose values are the expected outputs is a candidate, and
candidates come smallest first. Deduction (`synth_deduce`) assembles larger
programs early (concatenations, tuples, conditionals, uses of
comprehensions); such a program waits until the enumeration has ruled out
anything smaller, or, when the time runs out first, comes after what was
found. Each candidate's printed text is evaluated again, independently, on
every example.

The search stops at the first candidate the `Validation` accepts, and
searches on past one it turns down: a candidate must also give the outputs
of the withheld examples (`held_out`: examples the search never sees, so
they judge whether a program generalises instead of shaping it) and pass
the caller's `check` (in `npl fill`: compile, test-gaming, properties, in
the sandbox). `xs[1:]` fits [1, 2, 3] -> [2, 3] but not a withheld
[2, 4, 5] -> [2, 4]; `[x for x in xs if x % 2 == 0]` comes later and fits
both. The result says how much evidence the program had (`SynthResult`:
examples used, withheld examples passed, size, candidates turned down).

Size counts AST nodes: a name or literal is 1, an operator, call, method
call, subscript or comprehension adds 1 to its operands (a keyword argument
and a lambda add 1 more): `len(xs)` is 2, `s[::-1]` is 3, `sum(xs) * 2` is
4, `[x for x in xs if x > 0]` is 6.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from npl.lang.types import FLOAT, NONE, STR, IterT, PrimT, TupleT, Type, strip_optional

from .concepts import named_concepts
from .consts import constants, wants_floats
from .deduce import GROWTH, Deducer
from .enum import Clock, Context, Enumerator, Goal, OutOfTime, Solved, Space, Term
from .forms import FormBuilder
from .ops import ast_size
from .table import build_ops
from .values import ExampleError, coerce, component_types, depth, same_value, supported
from .variants import variants

__all__ = ["SynthTask", "SynthResult", "Validation", "ExampleError", "synthesize"]

DEFAULT_MAX_SIZE = 40
MAX_CHECKS = 6          # candidates handed to a Validation's `check` (each a sandbox run)


@dataclass
class SynthTask:
    params: list[tuple[str, Type]]
    ret: Type
    examples: list[tuple[tuple, object]]          # (arguments, expected output)
    description: str = ""


@dataclass
class Validation:
    """What a candidate must pass besides the examples the search sees, and
    (filled in by the search) what it turned down. `held_out` examples are
    (arguments, expected output) pairs like a task's; `check` is called with
    a candidate's text once it passes them, at most `max_checks` times, and
    its time does not count against the search's budget."""
    held_out: list[tuple[tuple, object]] = field(default_factory=list)
    check: Optional[Callable[[str], bool]] = None
    max_checks: int = MAX_CHECKS
    rejected: list[str] = field(default_factory=list)   # candidates turned down, in order
    checks: int = 0                                     # calls of `check` made


@dataclass
class SynthResult:
    expr: str                                     # NPL source of the expression
    size: int                                     # its AST size
    seconds: float
    explored: int                                 # candidates evaluated
    examples_used: int = 0                        # examples the search saw
    held_out_passed: int = 0                      # withheld examples it was checked on (all pass)
    rejected: int = 0                             # earlier candidates turned down


def synthesize(task: SynthTask, *, time_budget: float = 2.0, max_size: Optional[int] = None,
               validation: Optional[Validation] = None) -> Optional[SynthResult]:
    """The smallest expression consistent with every example that the
    validation accepts, or None.

    Raises ExampleError when an example (shown or withheld) does not fit the
    signature (wrong number of arguments, a value of the wrong type). Tasks
    the synthesizer does not handle (no examples, array/struct/function
    types, a `None` return) give None."""
    started = time.monotonic()
    validation = validation if validation is not None else Validation()
    if not task.examples or not _handles(task):
        return None
    inputs, outputs = _checked_examples(task.examples, task.params, task.ret)
    held_inputs, held_outputs = _checked_examples(validation.held_out, task.params, task.ret,
                                                  what="withheld example")
    space = _search_space(task, inputs, outputs, time_budget)
    top = Context(len(inputs), [(name, typ, [args[i] for args in inputs])
                               for i, (name, typ) in enumerate(task.params)])
    space.verify = lambda term: _replays(term.text, task, inputs, outputs)
    space.accept = _Acceptance(task, inputs + held_inputs, outputs + held_outputs, validation,
                               space.clock)
    goal = Goal(task.ret, outputs)
    search = Enumerator(space, top, goal=goal)
    found = _search(search, Deducer(search, goal, space.verify),
                    max_size if max_size is not None else DEFAULT_MAX_SIZE)
    if found is None:
        return None
    return SynthResult(found.text, ast_size(found), time.monotonic() - started,
                       space.clock.explored, len(inputs), len(held_inputs),
                       len(validation.rejected))


class _Acceptance:
    """The `Space.accept` of one search. A candidate is accepted when its
    printed text gives the outputs of every example, shown and withheld
    (`inputs`, `outputs`), and passes the validation's check; when it is
    turned down, its variants (synth/variants.py) are judged in turn. Each
    text is judged once."""

    def __init__(self, task: SynthTask, inputs: list[tuple], outputs: list,
                 validation: Validation, clock: Clock):
        self.task, self.inputs, self.outputs = task, inputs, outputs
        self.validation, self.clock = validation, clock
        self._judged: set[str] = set()

    def __call__(self, term: Term) -> Optional[Term]:
        if term.text in self._judged:
            return None
        if self._judge(term):
            return term
        return next((t for t in variants(term) if self._judge(t)), None)

    def _judge(self, term: Term) -> bool:
        text, v = term.text, self.validation
        if text in self._judged:
            return False
        self._judged.add(text)
        if not _replays(text, self.task, self.inputs, self.outputs):
            v.rejected.append(text)
            return False
        if v.check is None:
            return True
        if v.checks >= v.max_checks:
            raise OutOfTime                  # no check left: nothing more can be accepted
        v.checks += 1
        with self.clock.outside():
            accepted = v.check(text)
        if not accepted:
            v.rejected.append(text)
        return accepted


def _search(search: Enumerator, deducer: Deducer, max_size: int) -> Optional[Term]:
    """Enumerate level by level; the enumeration offers its candidates to
    `Space.accept` as it reaches them, smallest first (an accepted one ends
    the search as Solved). A deduced program (possibly larger than the
    level) is offered once every smaller level has been enumerated, or when
    the time is up. When the next level would not finish in time, the
    remaining time goes to growing comprehension bodies."""
    clock, accept = search.space.clock, search.space.accept
    last_level_seconds = 0.0
    try:
        for level in range(1, max_size + 1):
            while GROWTH * last_level_seconds > clock.remaining() and deducer.deepen():
                pass
            started = clock.now()
            search.ensure(level)
            last_level_seconds = clock.now() - started
            deducer.run(level)
            found = _first(deducer.take(level + 1), accept)
            if found is not None:
                return found
    except Solved as solved:
        return solved.term
    except OutOfTime:
        pass
    try:
        return _first(deducer.take(max_size), accept)
    except OutOfTime:                        # the validation's checks ran out
        return None


def _first(terms: Iterable[Term], accept: Callable[[Term], Optional[Term]]) -> Optional[Term]:
    """What `accept` makes of the first term it takes (the term or a
    variant of it)."""
    return next(filter(None, map(accept, terms)), None)


def _checked_examples(examples: list, params: list[tuple[str, Type]], ret: Type,
                      what: str = "example") -> tuple[list[tuple], list]:
    inputs, outputs = [], []
    for n, example in enumerate(examples, 1):
        if not isinstance(example, tuple) or len(example) != 2:
            raise ExampleError(f"{what} {n}: expected (arguments, output), got {example!r}")
        args, out = example
        if not isinstance(args, tuple):
            args = (args,)
        if len(args) != len(params):
            raise ExampleError(f"{what} {n}: {len(args)} argument(s) given, "
                               f"the signature takes {len(params)}")
        inputs.append(tuple(coerce(value, typ, f"{what} {n}, argument '{name}'")
                            for value, (name, typ) in zip(args, params)))
        outputs.append(coerce(out, ret, f"{what} {n}, expected output"))
    return inputs, outputs


def _handles(task: SynthTask) -> bool:
    return task.ret != NONE and supported(task.ret) and all(
        supported(typ) for _, typ in task.params)


def _search_space(task: SynthTask, inputs: list[tuple], outputs: list,
                  budget: float) -> Space:
    signature = {task.ret} | {typ for _, typ in task.params}
    components = set().union(*(component_types(t) for t in signature))
    floats = FLOAT in components or wants_floats(task.description)
    ops = build_ops(components, task.ret, floats=floats)
    consts = constants(task.description, inputs, outputs, components, task.ret,
                       floats=floats)

    @functools.lru_cache(maxsize=None)
    def allowed(typ: Type) -> bool:
        if typ == FLOAT and not floats:
            return False
        if typ in components or depth(typ) <= 1:
            return True
        return _pairs_of_primitives(typ)
    skips = frozenset({("+", STR)}) if task.ret == STR else frozenset()
    return Space(ops, consts, allowed, Clock(budget), top_level_skips=skips,
                 forms=FormBuilder, concepts=named_concepts(task.description))


def _pairs_of_primitives(typ: Type) -> bool:
    """iterator[tuple[int, str]] and the like, from enumerate/zip/items."""
    return (isinstance(typ, IterT) and isinstance(typ.elem, TupleT)
            and all(isinstance(t, PrimT) for t in typ.elem.elems))


# ---------------------------------------------------------- replay check

_BUILTINS = {
    f.__name__: f for f in (
        len, sum, min, max, sorted, reversed, abs, str, int, float, round, range,
        enumerate, zip, any, all, set, list, ord, chr)
} | {"sqrt": math.sqrt}


def _replays(expr: str, task: SynthTask, inputs: list[tuple], outputs: list) -> bool:
    """Evaluate the printed expression on every example, as Python (whose
    semantics NPL shares for everything the synthesizer prints)."""
    try:
        code = compile(expr, "<synthesized>", "eval")
    except SyntaxError:
        return False
    for args, expected in zip(inputs, outputs):
        scope = {"__builtins__": {}, **_BUILTINS,
                 **{name: value for (name, _), value in zip(task.params, args)}}
        try:
            actual = eval(code, scope)
        except Exception:
            return False
        if strip_optional(task.ret) == FLOAT and type(actual) is int:
            actual = float(actual)                # NPL widens on return
        if not same_value(actual, expected):
            return False
    return True

"""Example-driven synthesizer: a hole filler that needs no model.

Takes a function hole's signature (parameter names and NPL types, return
type), its input/output examples (Python values) and its English
description; gives back the smallest NPL expression over the parameters
that maps every example input to its output, as source text for
`return EXPR`, or None when nothing is found within the time budget.

The search is bottom-up and type-directed (`synth_enum`): it builds every
type-correct expression size by size from the parameters and constants
(`synth_consts`) with the ops of `synth_table` and the comprehensions and
key functions of synth/forms.py, keeping one expression per distinct vector
of values over the examples (observational equivalence). The first
expression it reaches whose values are the expected outputs is the smallest
in that grammar. Deduction (`synth_deduce`) assembles larger programs early
(concatenations, tuples, conditionals, uses of comprehensions); such a
program is returned once the enumeration has ruled out anything smaller,
or, when the time runs out first, as the best found. Either way its printed
text is evaluated again, independently, on every example before it is
returned.

Size counts AST nodes: a name or literal is 1, an operator, call, method
call, subscript or comprehension adds 1 to its operands (a keyword argument
and a lambda add 1 more): `len(xs)` is 2, `s[::-1]` is 3, `sum(xs) * 2` is
4, `[x for x in xs if x > 0]` is 6.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Optional

from npl.lang.types import FLOAT, NONE, STR, IterT, PrimT, TupleT, Type, strip_optional

from .consts import constants, wants_floats
from .deduce import GROWTH, Deducer
from .enum import Clock, Context, Enumerator, Goal, OutOfTime, Solved, Space, Term
from .forms import FormBuilder
from .table import build_ops
from .values import ExampleError, coerce, component_types, depth, same_value, supported

__all__ = ["SynthTask", "SynthResult", "ExampleError", "synthesize"]

DEFAULT_MAX_SIZE = 40


@dataclass
class SynthTask:
    params: list[tuple[str, Type]]
    ret: Type
    examples: list[tuple[tuple, object]]          # (arguments, expected output)
    description: str = ""


@dataclass
class SynthResult:
    expr: str                                     # NPL source of the expression
    size: int                                     # its AST size
    seconds: float
    explored: int                                 # candidates evaluated


def synthesize(task: SynthTask, *, time_budget: float = 2.0,
               max_size: Optional[int] = None) -> Optional[SynthResult]:
    """The smallest expression consistent with every example, or None.

    Raises ExampleError when an example does not fit the signature (wrong
    number of arguments, a value of the wrong type). Tasks the synthesizer
    does not handle (no examples, array/struct/function types, a `None`
    return) give None."""
    started = time.monotonic()
    if not task.examples or not _handles(task):
        return None
    inputs, outputs = _checked_examples(task)
    space = _search_space(task, inputs, outputs, time_budget)
    top = Context(len(inputs), [(name, typ, [args[i] for args in inputs])
                               for i, (name, typ) in enumerate(task.params)])
    space.verify = lambda term: _replays(term.text, task, inputs, outputs)
    goal = Goal(task.ret, outputs)
    search = Enumerator(space, top, goal=goal)
    best = _search(search, Deducer(search, goal, space.verify),
                   max_size if max_size is not None else DEFAULT_MAX_SIZE)
    if best is None:
        return None
    return SynthResult(best.text, best.size, time.monotonic() - started, space.clock.explored)


def _search(search: Enumerator, deducer: Deducer, max_size: int) -> Optional[Term]:
    """Enumerate level by level. A program the enumeration reaches is the
    smallest there is; a deduced one (possibly larger than the level) is
    returned once every smaller level has been enumerated without finding
    one, or when the time is up. When the next level would not finish in
    time, the remaining time goes to growing comprehension bodies."""
    best = None
    clock = search.space.clock
    last_level_seconds = 0.0
    try:
        for level in range(1, max_size + 1):
            while GROWTH * last_level_seconds > clock.remaining() and deducer.deepen():
                best = deducer.best
            started = time.monotonic()
            try:
                search.ensure(level)
            except Solved as found:
                return found.term
            last_level_seconds = time.monotonic() - started
            best = deducer.run(level)
            if best is not None and best.size <= level + 1:
                break
    except OutOfTime:
        best = deducer.best
    if best is not None and best.size > max_size:
        return None
    return best


def _checked_examples(task: SynthTask) -> tuple[list[tuple], list]:
    inputs, outputs = [], []
    for n, example in enumerate(task.examples, 1):
        if not isinstance(example, tuple) or len(example) != 2:
            raise ExampleError(f"example {n}: expected (arguments, output), got {example!r}")
        args, out = example
        if not isinstance(args, tuple):
            args = (args,)
        if len(args) != len(task.params):
            raise ExampleError(f"example {n}: {len(args)} argument(s) given, "
                               f"the signature takes {len(task.params)}")
        inputs.append(tuple(coerce(value, typ, f"example {n}, argument '{name}'")
                            for value, (name, typ) in zip(args, task.params)))
        outputs.append(coerce(out, task.ret, f"example {n}, expected output"))
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
                 forms=FormBuilder)


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

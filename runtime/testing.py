"""Running a program's `example`s and `property`s.

Takes a loaded `Program` and its `ir.Module` and gives back one `TestResult`
per test. An example passes when its expression is True. A property is
checked with Hypothesis, driven programmatically: inputs are drawn from the
parameter types (`strategy_for`), the `where` filter rejects inputs
(Hypothesis' `reject`, like assume()), a failure is shrunk to a minimal
counterexample reported as `name(x=0, lo=1, hi=0)`. Runs are deterministic
(derandomized) and write nothing into the user's folder (no example
database; Hypothesis' own cache goes to the user cache directory). A
run-time error inside a test is a failure carrying the NPL error message.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import hypothesis
import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Flaky, Unsatisfiable
from hypothesis.extra import numpy as hnp

from npl.compiler import ir
from npl.lang.ast import Span
from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, CounterT, DictT, ListT, OptionalT,
                            SetT, StructT, TupleT, Type)

from .codegen import Program
from .errors import NplRuntimeError
from .execution import run_deep
from .values import dtype_for, make_struct_class, npl_repr

MAX_COLLECTION = 20          # elements in a generated list/set/dict
MAX_ARRAY_SIDE = 12          # length of each array dimension
MAX_STRUCT_DEPTH = 3         # nesting of recursive structs
# Unicode categories left out of generated strings: controls, format,
# surrogates, private use, unassigned, separators (the space is put back).
_UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")


@dataclass(frozen=True)
class TestResult:
    name: str                # "example@12" or the property name
    kind: str                # "example" | "property"
    span: Span
    passed: bool
    message: str = ""        # why it failed ("" when it passed)
    error: str = ""          # the NplRuntimeError's kind when one failed it

    @property
    def location(self) -> str:
        return f"{self.span.file}:{self.span.line}"


# ------------------------------------------------------------------ strategies

def strategy_for(t: Type, structs: dict[str, list[tuple[str, Type]]],
                 classes: Optional[dict[str, type]] = None) -> st.SearchStrategy:
    """Values of NPL type `t`. `structs` gives each struct's fields;
    `classes` the struct classes of the program the values are for (made
    fresh when absent). Floats are finite; strings are printable text
    (str.isprintable() holds); recursive structs stop at MAX_STRUCT_DEPTH."""
    builder = _StrategyBuilder(structs, classes or {})
    return builder.of(t, 0)


class _StrategyBuilder:
    def __init__(self, structs: dict[str, list[tuple[str, Type]]], classes: dict[str, type]):
        self.structs = structs
        self.classes = dict(classes)

    def of(self, t: Type, depth: int) -> st.SearchStrategy:
        if t == INT:
            return st.one_of(st.integers(-8, 8), st.integers())   # small values too
        if t == FLOAT:
            return st.floats(allow_nan=False, allow_infinity=False)
        if t == BOOL:
            return st.booleans()
        if t == STR:
            chars = st.characters(exclude_categories=_UNPRINTABLE, include_characters=" ")
            return st.text(chars, max_size=MAX_COLLECTION)
        if t == NONE:
            return st.none()
        if isinstance(t, OptionalT):
            inner = st.nothing() if depth > MAX_STRUCT_DEPTH else self.of(t.inner, depth)
            return st.none() | inner
        if isinstance(t, (ListT, SetT, DictT)):
            return self.collection(t, depth)
        if isinstance(t, TupleT):
            return st.tuples(*(self.of(e, depth) for e in t.elems))
        if isinstance(t, ArrayT):
            return self.array(t)
        if isinstance(t, StructT):
            return self.struct(t, depth)
        raise ValueError(f"cannot generate values of type {t} for a property")

    def collection(self, t: Type, depth: int) -> st.SearchStrategy:
        if depth > MAX_STRUCT_DEPTH:
            # Empty, without building the element strategy: that is what ends
            # a struct that holds itself through a collection (kids: list[T]).
            return st.builds({ListT: list, SetT: set, DictT: dict, CounterT: Counter}[type(t)])
        size = MAX_COLLECTION
        if isinstance(t, ListT):
            return st.lists(self.of(t.elem, depth), max_size=size)
        if isinstance(t, SetT):
            return st.sets(self.of(t.elem, depth), max_size=size)
        assert isinstance(t, DictT)
        d = st.dictionaries(self.of(t.key, depth), self.of(t.value, depth), max_size=size)
        return d.map(Counter) if isinstance(t, CounterT) else d

    def array(self, t: ArrayT) -> st.SearchStrategy:
        if t.elem == FLOAT:
            elements = st.floats(allow_nan=False, allow_infinity=False, width=64)
        elif t.elem == INT:
            elements = st.integers(-2 ** 31, 2 ** 31)     # room for int64 arithmetic
        else:
            elements = st.booleans()
        shape = hnp.array_shapes(min_dims=t.rank, max_dims=t.rank, min_side=0,
                                 max_side=MAX_ARRAY_SIDE)
        return hnp.arrays(np.dtype(dtype_for(t.elem)), shape, elements=elements)

    def struct(self, t: StructT, depth: int) -> st.SearchStrategy:
        fields = self.structs.get(t.name)
        if fields is None:
            raise ValueError(f"unknown struct {t.name}")
        if depth > MAX_STRUCT_DEPTH + 8:
            raise ValueError(f"struct {t.name} contains itself without `| None`: "
                             "its values cannot be generated")
        cls = self.classes.get(t.name)
        if cls is None:
            cls = self.classes[t.name] = make_struct_class(t.name, fields)
        return st.builds(cls, *(self.of(ft, depth + 1) for _, ft in fields))


# ------------------------------------------------------------------ running

def run_tests(program: Program, module: ir.Module, *, max_examples: int = 100,
              only: Optional[Callable[[ir.TestCase], bool]] = None) -> list[TestResult]:
    """Run the module's tests (those `only` accepts), in source order."""
    _keep_hypothesis_files_out_of_the_project()
    tests = [t for t in module.tests if only is None or only(t)]
    runner = _Runner(program, module, max_examples)
    return run_deep(lambda: [runner.run(t) for t in tests])


class _Runner:
    def __init__(self, program: Program, module: ir.Module, max_examples: int):
        self.program = program
        self.max_examples = max_examples
        self.structs = {s.name: [(f.name, f.type) for f in s.fields] for s in module.structs}
        self.classes = {s.name: program.struct_class(s.name) for s in module.structs}

    def run(self, test: ir.TestCase) -> TestResult:
        if test.kind == "property" and test.params:
            passed, message, error = self.property(test)
        else:
            passed, message, error = self.example(test)
        return TestResult(test.name, test.kind, test.span, passed, message, error)

    def example(self, test: ir.TestCase) -> tuple[bool, str, str]:
        """(passed, why not, the run-time error's kind or "")."""
        try:
            outcome = self.program.run_test(test)
        except NplRuntimeError as err:
            return False, err.render(), err.kind
        if outcome is None:
            return False, "the `where` filter rejected the only case", ""
        if outcome:
            return True, "", ""
        return False, f"{test.kind} is False" + self.operands(test, ()), ""

    def operands(self, test: ir.TestCase, args: tuple) -> str:
        values = self.program.test_operands(test, args)
        if values is None:
            return ""
        left, right = values
        return f" (left side is {shown(left)}, right side is {shown(right)})"

    def property(self, test: ir.TestCase) -> tuple[bool, str, str]:
        """(passed, why not, the run-time error's kind or "")."""
        try:
            strategies = [strategy_for(p.type, self.structs, self.classes) for p in test.params]
        except ValueError as exc:
            return False, f"cannot run property: {exc}", ""
        failing: list[tuple] = []
        keys = [f"p{i}" for i in range(len(strategies))]

        def check(**drawn: object) -> None:
            args = tuple(drawn[k] for k in keys)
            try:
                outcome = self.program.run_test(test, args)
            except NplRuntimeError:
                failing.append(args)
                raise
            if outcome is None:
                hypothesis.reject()
            if not outcome:
                failing.append(args)
                raise _Falsified()

        given = hypothesis.given(**dict(zip(keys, strategies)))
        test_fn = settings(**self.settings())(given(check))
        try:
            test_fn()
        except _Falsified:
            return False, f"counterexample: {self.call_text(test, failing[-1])}" + \
                self.operands(test, failing[-1]), ""
        except NplRuntimeError as err:
            return (False, f"counterexample: {self.call_text(test, failing[-1])}\n{err.render()}",
                    err.kind)
        except (Unsatisfiable, FailedHealthCheck):
            return False, ("the `where` filter rejected (nearly) every generated input; "
                           "loosen it or change the parameter types"), ""
        except Flaky as err:        # failed, then passed when replayed: a time limit, usually
            cause = _first_runtime_error(err)
            detail = cause.render() if cause is not None else "it failed, then passed when run again"
            case = self.call_text(test, failing[0]) if failing else test.name
            return False, f"counterexample: {case}\n{detail}", cause.kind if cause is not None else ""
        return True, "", ""

    def settings(self) -> dict:
        return dict(max_examples=self.max_examples, derandomize=True, database=None,
                    deadline=None, report_multiple_bugs=False, print_blob=False,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])

    @staticmethod
    def call_text(test: ir.TestCase, args: tuple) -> str:
        inner = ", ".join(f"{p.name}={shown(a)}" for p, a in zip(test.params, args))
        return f"{test.name}({inner})"


MAX_SHOWN = 400         # characters of one value in a failure message


def shown(value: object) -> str:
    """`value` as a failure message shows it: its NPL repr, with the middle
    of a long one left out (the message says how much)."""
    text = npl_repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    head, tail = text[:MAX_SHOWN * 2 // 3], text[-(MAX_SHOWN // 3):]
    return f"{head} ...[{len(text) - len(head) - len(tail):,} characters left out]... {tail}"


def _first_runtime_error(err: BaseException) -> Optional[NplRuntimeError]:
    """The first NplRuntimeError inside an exception group (or its causes)."""
    todo = [err]
    while todo:
        e = todo.pop(0)
        if isinstance(e, NplRuntimeError):
            return e
        todo.extend(getattr(e, "exceptions", ()))
        if e.__cause__ is not None:
            todo.append(e.__cause__)
    return None


class _Falsified(Exception):
    """A property case evaluated to False (the runner's own signal to
    Hypothesis, never seen outside this module)."""


def _keep_hypothesis_files_out_of_the_project() -> None:
    """Hypothesis caches (e.g. Unicode tables) under its home directory,
    which defaults to ./.hypothesis; point it at NPL's cache folder
    ($NPL_CACHE_DIR, else the user cache) unless the user chose a place."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    import platformdirs
    from hypothesis.configuration import set_hypothesis_home_dir
    base = os.environ.get("NPL_CACHE_DIR") or platformdirs.user_cache_dir("npl")
    set_hypothesis_home_dir(str(Path(base) / "hypothesis"))

"""Examples and properties (runtime/testing.py) on hand-built IR."""
from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npl.compiler import ir
from npl.lang.ast import Span
from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, DictT, ListT, OptionalT, SetT,
                            StructT, TupleT, Type)
from npl.runtime.codegen import load
from npl.runtime.testing import MAX_STRUCT_DEPTH, run_tests, strategy_for
from npl.runtime.values import conforms, make_struct_class

FILE = "prog.npl"


def sp(line: int) -> Span:
    return Span(FILE, line, 1, line, 2)


def c(value, t=None):
    t = t or {bool: BOOL, int: INT, float: FLOAT, str: STR}[type(value)]
    return ir.Const(t, value)


def v(name, t=INT):
    return ir.Local(t, name)


def prim(op, t, *args):
    return ir.Prim(t, op, tuple(args))


def cmp(op, a, b):
    return ir.Compare(BOOL, (op,), (a, b))


def call(name, *args, t=INT):
    return ir.Call(t, name, tuple(args))


def clamp_function() -> ir.Function:
    x, lo, hi = v("x"), v("lo"), v("hi")
    body = [ir.If(cmp("lt", x, lo), [ir.Return(lo, span=sp(3))], [], span=sp(2)),
            ir.If(cmp("gt", x, hi), [ir.Return(hi, span=sp(5))], [], span=sp(4)),
            ir.Return(x, span=sp(6))]
    return ir.Function("clamp", [ir.Param(n, INT) for n in ("x", "lo", "hi")], INT, body,
                       {"x": INT, "lo": INT, "hi": INT}, span=sp(1), source_name="clamp")


def double_function() -> ir.Function:
    return ir.Function("double", [ir.Param("x", INT)], INT,
                       [ir.Return(prim("add", INT, v("x"), v("x")), span=sp(9))],
                       {"x": INT}, span=sp(8), source_name="double")


def example(line: int, expr: ir.Expr) -> ir.TestCase:
    return ir.TestCase("example", f"example@{line}", [], None, expr, {}, span=sp(line))


def prop(name: str, params: dict[str, Type], expr: ir.Expr, where=None, line=20):
    return ir.TestCase("property", name, [ir.Param(n, t) for n, t in params.items()], where,
                       expr, dict(params), span=sp(line))


def results_of(tests, functions=(), structs=(), **kw):
    m = ir.Module(FILE, list(structs), [], [clamp_function(), double_function(), *functions],
                  [], list(tests))
    return run_tests(load(m), m, **kw)


CLAMP_IN_RANGE = prop("clamp_in_range", {"x": INT, "lo": INT, "hi": INT},
                      ir.Compare(BOOL, ("le", "le"),
                                 (v("lo"), call("clamp", v("x"), v("lo"), v("hi")), v("hi"))),
                      where=cmp("le", v("lo"), v("hi")))


# ------------------------------------------------------------------ examples

def test_examples_pass_and_fail_with_both_sides_shown():
    passing = example(11, cmp("eq", call("double", c(2)), c(4)))
    failing = example(12, cmp("eq", call("double", c(3)), c(7)))
    ok, bad = results_of([passing, failing])
    assert (ok.passed, ok.message, ok.kind, ok.location) == (True, "", "example", "prog.npl:11")
    assert not bad.passed
    assert bad.location == "prog.npl:12"
    assert bad.message == "example is False (left side is 6, right side is 7)"


def test_example_with_runtime_error_fails_with_the_npl_message():
    boom = example(13, cmp("eq", prim("floordiv", INT, call("double", c(1)), c(0)), c(1)))
    (result,) = results_of([boom])
    assert not result.passed
    assert result.message.splitlines() == ["error: division by zero", "  in example@13 (prog.npl:13)"]


def test_example_that_is_not_a_comparison_has_a_plain_message():
    (result,) = results_of([example(14, c(False))])
    assert (result.passed, result.message) == (False, "example is False")


# ------------------------------------------------------------------ properties

def test_property_with_where_filter_passes():
    (result,) = results_of([CLAMP_IN_RANGE])
    assert result.passed, result.message
    assert result.kind == "property" and result.name == "clamp_in_range"


def test_failing_property_reports_the_shrunk_counterexample():
    unfiltered = prop("clamp_in_range", CLAMP_IN_RANGE.locals, CLAMP_IN_RANGE.expr)
    (result,) = results_of([unfiltered])
    assert not result.passed
    # minimal: lo > hi, smallest such values
    assert result.message == "counterexample: clamp_in_range(x=0, lo=0, hi=-1)"


def test_property_counterexample_shows_comparison_sides():
    grows = prop("grows", {"x": INT}, cmp("gt", call("double", v("x")), v("x")))
    (result,) = results_of([grows])
    assert result.message == "counterexample: grows(x=0) (left side is 0, right side is 0)"


def test_property_runs_are_deterministic():
    text = prop("short", {"s": STR}, cmp("lt", prim("len", INT, v("s", STR)), c(3)))
    first = results_of([text])[0].message
    assert first == results_of([text])[0].message
    assert first == "counterexample: short(s='000') (left side is 3, right side is 3)"


def test_runtime_error_in_property_is_a_failure_with_counterexample():
    divides = prop("divides", {"x": INT}, cmp("ge", prim("floordiv", INT, c(10), v("x")), c(-10)))
    (result,) = results_of([divides])
    assert not result.passed
    first, *rest = result.message.splitlines()
    assert first == "counterexample: divides(x=0)"
    assert rest == ["error: division by zero", "  in divides (prog.npl:20)"]


def test_filter_that_rejects_everything_is_reported():
    never = prop("never", {"x": INT}, c(True), where=cmp("eq", v("x"), c(123456789)))
    (result,) = results_of([never])
    assert not result.passed
    assert "`where` filter rejected" in result.message


def test_only_selects_tests_and_no_database_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tests = [example(11, cmp("eq", call("double", c(2)), c(4))), CLAMP_IN_RANGE]
    results = results_of(tests, only=lambda t: t.kind == "property", max_examples=20)
    assert [r.name for r in results] == ["clamp_in_range"]
    assert os.listdir(tmp_path) == []


NODE = ir.StructDef("Node", [ir.Param("value", INT), ir.Param("next", OptionalT(StructT("Node")))])
POINT = ir.StructDef("Point", [ir.Param("x", FLOAT), ir.Param("y", FLOAT)])


def test_properties_over_structs_and_arrays():
    pt = v("p", StructT("Point"))
    same = prop("reflexive", {"p": StructT("Point")}, cmp("eq", pt, pt))
    arr = v("a", ArrayT(FLOAT))
    sized = prop("sized", {"a": ArrayT(FLOAT)},
                 cmp("eq", prim("len", INT, arr), prim("getitem", INT,
                                                       prim("array.shape", TupleT((INT,)), arr),
                                                       c(0))))
    results = results_of([same, sized], structs=[POINT])
    assert [r.passed for r in results] == [True, True], [r.message for r in results]


# ------------------------------------------------------------------ strategies

STRUCTS = {"Node": [("value", INT), ("next", OptionalT(StructT("Node")))],
           "Point": [("x", FLOAT), ("y", FLOAT)]}
CLASSES = {name: make_struct_class(name, fields) for name, fields in STRUCTS.items()}


@pytest.mark.parametrize("t", [
    INT, FLOAT, BOOL, STR, NONE, ListT(INT), SetT(STR), DictT(STR, FLOAT),
    TupleT((INT, STR, BOOL)), OptionalT(INT), ArrayT(FLOAT), ArrayT(INT, 2), ArrayT(BOOL),
    StructT("Point"), StructT("Node"), ListT(StructT("Point")), DictT(TupleT((INT, INT)), STR),
], ids=str)
def test_strategy_values_have_the_npl_type(t):
    strategy = strategy_for(t, STRUCTS, CLASSES)

    @settings(max_examples=40, database=None, deadline=None)
    @given(st.data())
    def check(data):
        value = data.draw(strategy)
        assert conforms(value, t, CLASSES), (t, value)

    check()


def test_floats_are_finite_and_strings_printable():
    @settings(max_examples=200, database=None, deadline=None)
    @given(strategy_for(FLOAT, {}), strategy_for(STR, {}))
    def check(x, s):
        assert x == x and abs(x) != float("inf")
        assert s.isprintable()

    check()


def test_recursive_structs_have_bounded_depth():
    strategy = strategy_for(StructT("Node"), STRUCTS, CLASSES)

    def depth(node) -> int:
        return 0 if node is None else 1 + depth(node.s_next)

    @settings(max_examples=100, database=None, deadline=None)
    @given(strategy)
    def check(node):
        assert depth(node) <= MAX_STRUCT_DEPTH + 2

    check()


def test_types_without_values_are_rejected():
    from npl.lang.types import FuncT
    with pytest.raises(ValueError, match="cannot generate"):
        strategy_for(FuncT((INT,), INT), {})

"""The code-object runtime (runtime/codegen.py, errors.py, values.py,
execution.py, stdlib/builtins.py) on hand-built IR programs."""
from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from npl.compiler import ir
from npl.lang.ast import Span
from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, DictT, FuncT, IterT, ListT,
                            OptionalT, SetT, StructT, TupleT, Type)
from npl.runtime.codegen import CodegenError, compile_module, load
from npl.runtime.errors import Frame, NplRuntimeError
from npl.stdlib.builtins import HELPERS

FILE = "prog.npl"


# ------------------------------------------------------------------ IR building kit

def sp(line: int, file: str = FILE) -> Span:
    return Span(file, line, 1, line, 2)


def c(value, t: Type | None = None) -> ir.Const:
    if t is None:
        t = {bool: BOOL, int: INT, float: FLOAT, str: STR, type(None): NONE}[type(value)]
    return ir.Const(t, value)


def v(name: str, t: Type = INT) -> ir.Local:
    return ir.Local(t, name)


def p(op: str, t: Type, *args: ir.Expr, **kwargs: ir.Expr) -> ir.Prim:
    return ir.Prim(t, op, tuple(args), tuple(kwargs.items()))


def add(a, b, t=INT):
    return p("add", t, a, b)


def cmp(op: str, a: ir.Expr, b: ir.Expr) -> ir.Compare:
    return ir.Compare(BOOL, (op,), (a, b))


def lst(t: Type, *elts: ir.Expr) -> ir.ListLit:
    return ir.ListLit(ListT(t), tuple(elts))


def show(*args: ir.Expr, **kwargs: ir.Expr) -> ir.ExprStmt:
    return ir.ExprStmt(p("print", NONE, *args, **kwargs))


def at(line: int, stmt: ir.Stmt, file: str = FILE) -> ir.Stmt:
    stmt.span = sp(line, file)
    return stmt


def numbered(body: list[ir.Stmt], first: int, file: str = FILE) -> list[ir.Stmt]:
    """Give consecutive statements consecutive lines (nested ones keep theirs)."""
    return [s if s.span.line else at(first + i, s, file) for i, s in enumerate(body)]


def locals_of(body: list[ir.Stmt], into: dict[str, Type]) -> dict[str, Type]:
    for s in body:
        if isinstance(s, ir.Assign):
            into.setdefault(s.name, s.value.type)
        elif isinstance(s, ir.Unpack):
            for name, t in zip(s.names, s.value.type.elems):
                into.setdefault(name, t)
        elif isinstance(s, ir.ForRange):
            into.setdefault(s.var, INT)
        elif isinstance(s, ir.ForEach):
            elem = s.iter.type.elem if isinstance(s.iter.type, (ListT, IterT, SetT)) else STR
            names = s.targets
            types = elem.elems if s.unpack else (elem,)
            for name, t in zip(names, types):
                into.setdefault(name, t)
        for attr in ("body", "orelse"):
            locals_of(getattr(s, attr, []), into)
    return into


def fn(name: str, params: dict[str, Type], ret: Type, body: list[ir.Stmt], line: int = 1,
       file: str = FILE) -> ir.Function:
    body = numbered(body, line + 1, file)
    return ir.Function(name, [ir.Param(n, t) for n, t in params.items()], ret, body,
                       locals_of(body, dict(params)), span=sp(line, file), source_name=name)


def module(*functions: ir.Function, structs=(), consts=(), externs=(), tests=(),
           main: str | None = "main") -> ir.Module:
    return ir.Module(FILE, list(structs), list(consts), list(functions), list(externs),
                     list(tests), main=main)


def run_main(body: list[ir.Stmt], capsys, *others: ir.Function, **kw) -> str:
    load(module(fn("main", {}, NONE, body), *others, **kw)).run_main([])
    return capsys.readouterr().out


def main_error(body: list[ir.Stmt], *others: ir.Function, **kw) -> NplRuntimeError:
    program = load(module(fn("main", {}, NONE, body), *others, **kw))
    with pytest.raises(NplRuntimeError) as info:
        program.run_main([])
    return info.value


# ------------------------------------------------------------------ arithmetic

def test_integer_division_and_modulo_follow_python(capsys):
    out = run_main([show(p("floordiv", INT, c(7), c(2)), p("floordiv", INT, c(-7), c(2)),
                         p("mod", INT, c(7), c(3)), p("mod", INT, c(-7), c(3)),
                         p("truediv", FLOAT, c(7), c(2)), p("truediv", FLOAT, c(1), c(3)))],
                   capsys)
    assert out == "3 -4 1 2 3.5 0.3333333333333333\n"


def test_big_ints_and_float_printing(capsys):
    out = run_main([show(p("pow", INT, c(2), c(100)), p("add", FLOAT, c(0.1), c(0.2)),
                         p("int_to_float", FLOAT, c(3)), p("pow", FLOAT, c(2.0), c(0.5)),
                         p("round", FLOAT, c(2.675), c(2)), p("round", INT, c(3.5)),
                         p("int", INT, c(-3.9)), p("floor", INT, c(2.7)), c(1e16))], capsys)
    assert out == ("1267650600228229401496703205376 0.30000000000000004 3.0 "
                   "1.4142135623730951 2.67 4 -3 2 1e+16\n")


def test_int_power_with_negative_exponent_is_an_npl_error():
    body = [ir.Assign("n", c(-1)), show(p("pow", INT, c(2), v("n")))]
    err = main_error(body)
    assert err.kind == "value"
    assert "negative exponent in int ** int; use a float base" in err.message
    assert err.frames == [Frame("main", FILE, 3)]


def test_fractional_power_of_negative_float_is_an_error_not_complex():
    body = [ir.Assign("x", c(-8.0)), show(p("pow", FLOAT, v("x", FLOAT), c(1 / 3)))]
    assert main_error(body).kind == "value"


def test_math_builtins_and_constants(capsys):
    out = run_main([show(p("sqrt", FLOAT, c(16.0)), p("ceil", INT, c(2.1)),
                         ir.Global(FLOAT, "pi"), p("atan2", FLOAT, c(1.0), c(1.0)),
                         p("divmod", TupleT((INT, INT)), c(17), c(5)), p("abs", INT, c(-4)))],
                   capsys)
    assert out == f"4.0 3 {math.pi} {math.atan2(1, 1)} (3, 2) 4\n"


def test_chained_comparison_and_boolean_operators(capsys):
    chain = ir.Compare(BOOL, ("lt", "lt"), (c(1), c(2), c(3)))
    chain2 = ir.Compare(BOOL, ("gt", "gt"), (c(3), c(2), c(2)))
    both = ir.And(BOOL, (cmp("eq", c(1), c(1)), p("truthy", BOOL, c("x"))))
    out = run_main([show(chain, chain2, both, ir.Or(BOOL, (c(False), c(False))),
                         p("not", BOOL, c(True)))], capsys)
    assert out == "True False True False False\n"


# ------------------------------------------------------------------ strings

def test_string_methods_slicing_and_fstrings(capsys):
    s = v("s", STR)
    fstring = p("concat", STR, c("n="), p("format", STR, v("n"), c("")), c(", v="),
                p("format", STR, v("x", FLOAT), c(".2f")), c(", r="), p("repr", STR, s),
                c(" pad=["), p("format", STR, v("n"), c(">5")), c("]"))
    body = [ir.Assign("s", c("Hello, World")), ir.Assign("n", c(42)), ir.Assign("x", c(3.14159)),
            show(p("slice", STR, s, c(None), c(None), c(-1)), p("getitem", STR, s, c(-1)),
                 p("str.upper", STR, s), p("str.find", INT, s, c("World")),
                 p("str.split", ListT(STR), s, c(", "))),
            show(fstring),
            show(p("str.join", STR, c("-"), lst(STR, c("a"), c("b"))),
                 p("mul", STR, c("ab"), c(3)), cmp("in", c("x"), c("xyz")),
                 p("str.zfill", STR, c("7"), c(3)), p("ord", INT, c("A")),
                 p("str", STR, c(12)))]
    out = run_main(body, capsys)
    assert out.splitlines() == [
        "dlroW ,olleH d HELLO, WORLD 7 ['Hello', 'World']",
        "n=42, v=3.14, r='Hello, World' pad=[   42]",
        "a-b ababab True 007 65 12"]


def test_print_sep_and_end(capsys):
    out = run_main([show(c("a"), c("b"), sep=c("-"), end=c("!\n"))], capsys)
    assert out == "a-b!\n"


@pytest.mark.parametrize("expr, kind, message", [
    (p("pow", FLOAT, c(10.0), c(400.0)), "overflow", "numeric overflow: result out of range"),
    (p("int", INT, p("mul", FLOAT, c(1e308), c(10.0))), "overflow",
     "numeric overflow: cannot convert float infinity to integer"),
    (p("sqrt", FLOAT, c(-1.0)), "value", "math domain error (argument outside the function's domain)"),
    (p("str.index", INT, c("abc"), c("z")), "value", "substring not found"),
    (p("min", INT, ir.ListLit(ListT(INT), ())), "value", "min() arg is an empty sequence"),
])
def test_numeric_and_value_errors(expr, kind, message):
    err = main_error([show(expr)])
    assert (err.kind, err.message) == (kind, message)


def test_int_of_bad_string_is_a_value_error_with_python_message():
    err = main_error([show(p("int", INT, c("4x2")))])
    assert err.kind == "value"
    assert "invalid literal for int()" in err.message


# ------------------------------------------------------------------ collections

def test_lists_sorted_key_reverse_and_methods(capsys):
    xs = v("xs", ListT(INT))
    key = ir.Lambda(FuncT((INT,), INT), ("x",), p("neg", INT, v("x")))
    body = [ir.Assign("xs", lst(INT, c(3), c(1), c(2))),
            ir.ExprStmt(p("list.append", NONE, xs, c(5))),
            ir.Assign("last", p("list.pop", INT, xs)),
            show(xs, v("last"), p("sorted", ListT(INT), xs, reverse=c(True)),
                 p("sorted", ListT(INT), xs, key=key), p("len", INT, xs),
                 p("slice", ListT(INT), xs, c(1), c(None), c(None)),
                 p("add", ListT(INT), xs, lst(INT, c(9))), p("mul", ListT(INT), lst(INT, c(0)), c(2)))]
    out = run_main(body, capsys)
    assert out == "[3, 1, 2] 5 [3, 2, 1] [3, 2, 1] 3 [1, 2] [3, 1, 2, 9] [0, 0]\n"


def test_dicts_print_like_python_and_iterate_keys(capsys):
    d = v("d", DictT(STR, INT))
    items = ir.Comp(DictT(STR, INT), "dict", p("mul", INT, v("b"), v("b")),
                    (ir.Generator(("a", "b"), True, p("dict.items", IterT(TupleT((STR, INT))), d)),),
                    key=v("a", STR))
    body = [ir.Assign("d", ir.DictLit(DictT(STR, INT), (c("a"), c("b")), (c(1), c(2)))),
            ir.SetItem(d, (c("c"),), c(3)),
            show(d, p("dict.get", OptionalT(INT), d, c("z")), cmp("in", c("a"), d), items),
            ir.ForEach(("k",), False, d, [show(v("k", STR))]),
            show(p("dict.keys", ListT(STR), d))]
    out = run_main(body, capsys)
    assert out.splitlines() == ["{'a': 1, 'b': 2, 'c': 3} None True {'a': 1, 'b': 4, 'c': 9}",
                                "a", "b", "c", "['a', 'b', 'c']"]


def test_sets_and_tuples(capsys):
    a, b = v("a", SetT(INT)), v("b", SetT(INT))
    pair = ir.TupleLit(TupleT((INT, STR)), (c(1), c("one")))
    body = [ir.Assign("a", ir.SetLit(SetT(INT), (c(1), c(2), c(3)))),
            ir.Assign("b", ir.SetLit(SetT(INT), ())),
            ir.ExprStmt(p("set.add", NONE, b, c(2))),
            show(p("sorted", ListT(INT), p("bitor", SetT(INT), a, b)),
                 p("sorted", ListT(INT), p("bitsub", SetT(INT), a, b)), b, pair),
            ir.Unpack(("q", "r"), p("divmod", TupleT((INT, INT)), c(17), c(5))),
            show(v("q"), v("r"), ir.TupleLit(TupleT((INT,)), (c(7),)))]
    out = run_main(body, capsys)
    assert out.splitlines() == ["[1, 2, 3] [1, 3] {2} (1, 'one')", "3 2 (7,)"]


def test_comprehensions_lambdas_map_filter_and_generators(capsys):
    xs = v("xs", ListT(INT))
    x = v("x")
    odd = ir.Lambda(FuncT((INT,), BOOL), ("x",), cmp("eq", p("mod", INT, x, c(2)), c(1)))
    inc = ir.Lambda(FuncT((INT,), INT), ("x",), add(x, c(1)))
    squares = ir.Comp(ListT(INT), "list", p("mul", INT, x, x),
                      (ir.Generator(("x",), False, xs, (cmp("gt", x, c(1)),)),))
    gen_sum = p("sum", INT, ir.Comp(IterT(INT), "gen", p("mul", INT, x, x),
                                    (ir.Generator(("x",), False, xs),)))
    pairs = ir.Comp(ListT(TupleT((INT, STR))), "list",
                    ir.TupleLit(TupleT((INT, STR)), (v("i"), v("w", STR))),
                    (ir.Generator(("i", "w"), True,
                                  p("enumerate", IterT(TupleT((INT, STR))), lst(STR, c("p")))),))
    body = [ir.Assign("xs", lst(INT, c(3), c(1), c(2))),
            show(squares, gen_sum, p("list", ListT(INT), p("map", IterT(INT), inc, xs)),
                 p("list", ListT(INT), p("filter", IterT(INT), odd, xs)), pairs,
                 p("max", INT, xs, key=ir.Lambda(FuncT((INT,), INT), ("x",), p("neg", INT, x))),
                 p("sum", FLOAT, ir.ListLit(ListT(FLOAT), ())))]
    out = run_main(body, capsys)
    assert out == "[9, 4] 14 [4, 2, 3] [3, 1] [(0, 'p')] 1 0.0\n"


def test_lambda_reads_enclosing_variables(capsys):
    key = ir.Lambda(FuncT((STR,), INT), ("k",),
                    p("getitem", INT, v("counts", DictT(STR, INT)), v("k", STR)))
    body = [ir.Assign("counts", ir.DictLit(DictT(STR, INT), (c("a"), c("b")), (c(1), c(5)))),
            show(p("max", STR, v("counts", DictT(STR, INT)), key=key))]
    assert run_main(body, capsys) == "b\n"


# ------------------------------------------------------------------ control flow

def test_loops_break_continue_and_ranges(capsys):
    total = v("total")
    body = [ir.Assign("total", c(0)),
            ir.ForRange("i", c(10), c(0), c(-2), [
                at(3, ir.If(cmp("eq", v("i"), c(4)), [at(3, ir.Continue())], [])),
                at(4, ir.Assign("total", add(total, v("i"))))]),
            ir.While(c(True), [at(6, ir.If(cmp("ge", total, c(30)), [at(6, ir.Break())], [])),
                               at(7, ir.Assign("total", add(total, c(1))))]),
            show(total, ir.IfExp(STR, cmp("gt", total, c(0)), c("pos"), c("neg")))]
    assert run_main(body, capsys) == "30 pos\n"


def test_recursion_and_mutual_recursion(capsys):
    n = v("n")
    fib = fn("fib", {"n": INT}, INT, [
        ir.If(cmp("lt", n, c(2)), [ir.Return(n)], []),
        ir.Return(add(ir.Call(INT, "fib", (p("sub", INT, n, c(1)),)),
                      ir.Call(INT, "fib", (p("sub", INT, n, c(2)),))))], line=10)
    assert run_main([show(ir.Call(INT, "fib", (c(20),)))], capsys, fib) == "6765\n"


def test_deep_recursion_well_beyond_python_default(capsys):
    n = v("n")
    depth = fn("depth", {"n": INT}, INT, [
        ir.If(cmp("eq", n, c(0)), [ir.Return(c(0))], []),
        ir.Return(add(c(1), ir.Call(INT, "depth", (p("sub", INT, n, c(1)),))))], line=10)
    assert run_main([show(ir.Call(INT, "depth", (c(15000),)))], capsys, depth) == "15000\n"


def test_infinite_recursion_is_a_stack_overflow_with_npl_trace():
    loop = fn("forever", {"n": INT}, INT,
              [ir.Return(ir.Call(INT, "forever", (add(v("n"), c(1)),)))], line=10)
    err = main_error([show(ir.Call(INT, "forever", (c(0),)))], loop)
    assert err.kind == "stack_overflow"
    assert err.message == "stack overflow (recursion too deep)"
    assert err.frames[0] == Frame("main", FILE, 2)
    assert err.frames[-1] == Frame("forever", FILE, 11)
    lines = err.render().splitlines()
    assert lines[1:] == ["  in main (prog.npl:2)", "  in forever (prog.npl:11)",
                         f"  [the call above repeated {len(err.frames) - 2} more time(s)]"]


def test_deep_mutual_recursion_trace_is_shortened():
    ping = fn("ping", {"n": INT}, INT, [ir.Return(ir.Call(INT, "pong", (v("n"),)))], line=10)
    pong = fn("pong", {"n": INT}, INT, [ir.Return(ir.Call(INT, "ping", (v("n"),)))], line=20)
    err = main_error([show(ir.Call(INT, "ping", (c(0),)))], ping, pong)
    lines = err.render().splitlines()
    assert len(lines) == 1 + 20 + 1 + 20
    assert lines[21] == f"  ... {len(err.frames) - 40} more frames ..."


# ------------------------------------------------------------------ structs

POINT = ir.StructDef("Point", [ir.Param("x", FLOAT), ir.Param("y", FLOAT)], span=sp(1))


def point(x: float, y: float) -> ir.MakeStruct:
    return ir.MakeStruct(StructT("Point"), "Point", (c(x), c(y)))


def test_structs_compare_fieldwise_print_and_mutate(capsys):
    pt = v("p", StructT("Point"))
    body = [ir.Assign("p", point(1.0, 2.0)),
            ir.SetField(pt, "x", p("add", FLOAT, ir.GetField(FLOAT, pt, "x"), c(0.5))),
            show(pt, cmp("eq", pt, point(1.5, 2.0)), cmp("eq", pt, point(2.0, 1.5)),
                 cmp("ne", pt, point(1.5, 2.0)), lst(StructT("Point"), point(0.0, 0.0)))]
    out = run_main(body, capsys, structs=[POINT])
    assert out == "Point(x=1.5, y=2.0) True False False [Point(x=0.0, y=0.0)]\n"


def test_struct_class_is_slotted_and_unhashable():
    program = load(module(fn("main", {}, NONE, []), structs=[POINT]))
    cls = program.struct_class("Point")
    pt = cls(1.0, 2.0)
    with pytest.raises(AttributeError):
        pt.z = 1.0
    with pytest.raises(TypeError):
        hash(pt)
    assert repr(pt) == "Point(x=1.0, y=2.0)"
    assert pt != None  # noqa: E711 - comparing with None must be False, not an error


def test_struct_fields_named_like_python_internals(capsys):
    odd = ir.StructDef("Odd", [ir.Param("__class__", INT), ir.Param("__init__", STR)])
    body = [ir.Assign("o", ir.MakeStruct(StructT("Odd"), "Odd", (c(1), c("a")))),
            show(v("o", StructT("Odd")), ir.GetField(INT, v("o", StructT("Odd")), "__class__"))]
    assert run_main(body, capsys, structs=[odd]) == "Odd(__class__=1, __init__='a') 1\n"


def test_reading_a_field_of_none_is_an_npl_none_error():
    body = [ir.Assign("p", ir.Const(OptionalT(StructT("Point")), None)),
            show(ir.GetField(FLOAT, v("p", OptionalT(StructT("Point"))), "x"))]
    err = main_error(body, structs=[POINT])
    assert err.kind == "none"
    assert "reading field 'x' of None" in err.message


# ------------------------------------------------------------------ arrays

FARR = ArrayT(FLOAT)


def test_arrays_elementwise_reductions_and_python_scalars(capsys):
    a, b = v("a", ArrayT(INT)), v("b", FARR)
    body = [ir.Assign("a", p("arange", ArrayT(INT), c(5))),
            ir.Assign("b", p("zeros", FARR, c(5))),
            ir.ForRange("i", c(0), c(5), c(1), [
                at(4, ir.SetItem(b, (v("i"),), p("mul", FLOAT, p("int_to_float", FLOAT, v("i")),
                                                 c(2.0))))]),
            ir.Assign("s", p("add", FARR, p("mul", FARR, a, c(2.0)), b)),
            show(p("sum", FLOAT, v("s", FARR)), p("getitem", FLOAT, v("s", FARR), c(4)),
                 p("max", FLOAT, b), p("min", INT, a), p("len", INT, a),
                 p("dot", FLOAT, b, b), v("s", FARR))]
    out = run_main(body, capsys)
    assert out == "40.0 16.0 8.0 0 5 120.0 array([0.0, 4.0, 8.0, 12.0, 16.0])\n"


def test_array_element_reads_and_iteration_give_python_scalars():
    f = fn("elems", {"a": FARR}, ListT(FLOAT), [
        ir.Assign("out", ir.ListLit(ListT(FLOAT), ())),
        ir.ForEach(("x",), False, v("a", FARR),
                   [at(4, ir.ExprStmt(p("list.append", NONE, v("out", ListT(FLOAT)),
                                        v("x", FLOAT))))]),
        ir.ExprStmt(p("list.append", NONE, v("out", ListT(FLOAT)),
                      p("getitem", FLOAT, v("a", FARR), c(0)))),
        ir.Return(v("out", ListT(FLOAT)))])
    result = load(module(f, main=None)).call("elems", np.array([1.5, 2.5]))
    assert result == [1.5, 2.5, 1.5]
    assert all(type(x) is float for x in result)


def test_two_dimensional_arrays_shape_and_indexing(capsys):
    m = v("m", ArrayT(FLOAT, 2))
    shape = p("array.shape", TupleT((INT, INT)), m)
    body = [ir.Assign("m", p("zeros", ArrayT(FLOAT, 2), ir.TupleLit(TupleT((INT, INT)),
                                                                   (c(2), c(3))))),
            ir.SetItem(m, (c(1), c(2)), c(5.0)),
            show(shape, p("getitem", FLOAT, m, c(1), c(2)), p("sum", FLOAT, m),
                 p("getitem", FARR, m, c(1)), p("len", INT, m))]
    out = run_main(body, capsys)
    assert out == "(2, 3) 5.0 5.0 array([0.0, 0.0, 5.0]) 2\n"


def test_array_constructors_and_bool_arrays(capsys):
    flags = v("flags", ArrayT(BOOL))
    body = [ir.Assign("flags", p("ones", ArrayT(BOOL), c(3), dtype=c("bool"))),
            ir.SetItem(flags, (c(0),), c(False)),
            show(flags, p("getitem", BOOL, flags, c(1)), p("full", FARR, c(2), c(0.5)),
                 p("array", ArrayT(INT), lst(INT, c(1), c(2))),
                 p("sqrt", FARR, p("array", FARR, lst(FLOAT, c(4.0), c(9.0)))),
                 p("str", STR, p("arange", ArrayT(INT), c(2))))]
    out = run_main(body, capsys)
    assert out == ("array([False, True, True]) True array([0.5, 0.5]) array([1, 2]) "
                   "array([2.0, 3.0]) array([0, 1])\n")


def test_math_on_arrays_is_elementwise(capsys):
    arr = p("array", FARR, lst(FLOAT, c(1.0), c(8.0)))
    body = [show(p("log", FARR, arr, c(2.0)), p("log", FLOAT, c(8.0), c(2.0)),
                 p("floor", FARR, p("mul", FARR, arr, c(0.5))), p("exp", FARR, p("zeros", FARR, c(1))))]
    assert run_main(body, capsys) == "array([0.0, 3.0]) 3.0 array([0.0, 4.0]) array([1.0])\n"


def test_array_equality_is_one_bool_also_inside_structs(capsys):
    holder = ir.StructDef("Holder", [ir.Param("a", FARR), ir.Param("n", INT)])
    a, b = v("a", FARR), v("b", FARR)

    def make(arr):
        return ir.MakeStruct(StructT("Holder"), "Holder", (arr, c(1)))
    body = [ir.Assign("a", p("zeros", FARR, c(2))), ir.Assign("b", p("ones", FARR, c(2))),
            show(cmp("eq", a, a), cmp("eq", a, b), cmp("ne", a, b), cmp("eq", make(a), make(a)),
                 cmp("eq", make(a), make(b)), make(a))]
    out = run_main(body, capsys, structs=[holder])
    assert out == "True False True True False Holder(a=array([0.0, 0.0]), n=1)\n"


def test_array_index_out_of_bounds_is_an_index_error():
    err = main_error([ir.Assign("a", p("zeros", FARR, c(3))),
                      show(p("getitem", FLOAT, v("a", FARR), c(3)))])
    assert err.kind == "index"
    assert err.frames == [Frame("main", FILE, 3)]


# ------------------------------------------------------------------ run-time errors

GET = fn("get", {"xs": ListT(INT), "i": INT}, INT,
         [ir.Return(p("getitem", INT, v("xs", ListT(INT)), v("i")))], line=1)


def test_index_error_has_npl_trace_and_no_python_traceback():
    body = [ir.Assign("xs", lst(INT, c(1), c(2), c(3))),
            show(ir.Call(INT, "get", (v("xs", ListT(INT)), c(5))))]
    program = load(module(fn("main", {}, NONE, body, line=4), GET))
    with pytest.raises(NplRuntimeError) as info:
        program.run_main([])
    err = info.value
    assert err.kind == "index"
    assert err.frames == [Frame("main", FILE, 6), Frame("get", FILE, 2)]
    text = err.render()
    assert text.splitlines()[1:] == ["  in main (prog.npl:6)", "  in get (prog.npl:2)"]
    assert text.startswith("error: index out of range: list index 5, length 3\n")
    assert "Traceback" not in text and ".py" not in text


def test_error_trace_quotes_source_lines_when_sources_are_given():
    body = [ir.Assign("xs", lst(INT, c(1))), show(ir.Call(INT, "get", (v("xs", ListT(INT)), c(1))))]
    source = "def get(xs, i):\n    return xs[i]\n\ndef main():\n  xs = [1]\n  print(get(xs, 1))\n"
    program = load(module(fn("main", {}, NONE, body, line=4), GET), sources={FILE: source})
    with pytest.raises(NplRuntimeError) as info:
        program.run_main([])
    assert info.value.render().splitlines() == [
        "error: index out of range: list index 1, length 1",
        "  in main (prog.npl:6)", "      print(get(xs, 1))",
        "  in get (prog.npl:2)", "      return xs[i]"]


def test_index_error_messages_for_strings_and_computed_indices():
    err = main_error([ir.Assign("s", c("ab")), show(p("getitem", STR, v("s", STR), c(-3)))])
    assert err.message == "index out of range: string index -3, length 2"
    xs = v("xs", ListT(INT))
    err = main_error([ir.Assign("xs", lst(INT)), show(p("getitem", INT, xs, p("len", INT, xs)))])
    assert (err.kind, err.message) == ("index", "list index out of range")
    err = main_error([ir.Assign("xs", lst(INT)), ir.ExprStmt(p("list.pop", INT, xs))])
    assert err.message == "pop from empty list"


def test_frames_show_npl_function_names_verbatim():
    odd = fn("v_helper", {}, INT, [ir.Return(p("floordiv", INT, c(1), c(0)))], line=10)
    err = main_error([show(ir.Call(INT, "v_helper", ()))], odd)
    assert err.frames[-1] == Frame("v_helper", FILE, 11)


def test_zero_division_and_missing_key():
    err = main_error([show(p("mod", INT, c(1), c(0)))])
    assert (err.kind, err.message) == ("zero_division", "division by zero")
    d = ir.DictLit(DictT(STR, INT), (c("a"),), (c(1),))
    err = main_error([show(p("getitem", INT, d, c("zz")))])
    assert (err.kind, err.message) == ("key", "key not found: 'zz'")


def test_failed_assert_shows_its_message():
    err = main_error([ir.Assign("n", c(3)),
                      ir.Assert(cmp("eq", v("n"), c(4)), p("concat", STR, c("n was "),
                                                           p("format", STR, v("n"), c(""))))])
    assert (err.kind, err.message) == ("assert", "assertion failed: n was 3")
    assert err.frames == [Frame("main", FILE, 3)]
    err = main_error([ir.Assert(c(False), None)])
    assert err.message == "assertion failed"


def test_variable_used_before_assignment():
    body = [ir.If(c(False), [at(2, ir.Assign("late", c(1)))], []), show(v("late"))]
    err = main_error(body)
    assert (err.kind, err.message) == ("unbound", "variable 'late' used before it was assigned")


def test_error_inside_lambda_and_comprehension_reports_enclosing_function():
    xs = v("xs", ListT(INT))
    comp = ir.Comp(ListT(INT), "list", p("floordiv", INT, c(1), v("x")),
                   (ir.Generator(("x",), False, xs),))
    err = main_error([ir.Assign("xs", lst(INT, c(1), c(0))), show(comp)])
    assert err.kind == "zero_division"
    assert err.frames == [Frame("main", FILE, 3)]


def test_unfilled_holes_raise_with_their_location():
    hole = ir.HoleExpr(INT, "k1", "the answer to everything", span=Span(FILE, 2, 9, 2, 30))
    err = main_error([show(hole)])
    assert err.kind == "hole"
    assert err.message == "unfilled hole at prog.npl:2:9: ?{the answer to everything}"
    body_hole = fn("todo", {}, INT, [ir.HoleBody("k2", "count the vowels")], line=10)
    err = main_error([show(ir.Call(INT, "todo", ()))], body_hole)
    assert err.kind == "hole" and err.frames[-1] == Frame("todo", FILE, 11)


def test_failing_constant_is_reported_at_load():
    bad = ir.ConstDef("K", INT, p("floordiv", INT, c(1), c(0)), span=sp(1))
    with pytest.raises(NplRuntimeError) as info:
        load(module(fn("main", {}, NONE, [], line=3), consts=[bad]))
    assert info.value.kind == "zero_division"
    assert info.value.frames == [Frame("const K", FILE, 1)]


def test_constants_are_visible_to_functions(capsys):
    k = ir.ConstDef("K", INT, c(7), span=sp(1))
    twice = ir.ConstDef("TWICE", INT, p("mul", INT, ir.Global(INT, "K"), c(2)), span=sp(2))
    out = run_main([show(ir.Global(INT, "TWICE"))], capsys, consts=[k, twice])
    assert out == "14\n"


def test_frames_of_functions_from_another_file():
    other = fn("helper", {}, INT, [ir.Return(p("floordiv", INT, c(1), c(0)))], line=5,
               file="shapes.npl")
    other.name = "shapes.helper"
    err = main_error([show(ir.Call(INT, "shapes.helper", ()))], other)
    assert err.frames == [Frame("main", FILE, 2), Frame("helper", "shapes.npl", 6)]


# ------------------------------------------------------------------ externs

RATE = ir.Extern("fetch_rate", [ir.Param("currency", STR)], FLOAT, span=sp(1))


def test_extern_supplied_by_host_and_result_checked(capsys):
    body = [show(ir.Call(FLOAT, "fetch_rate", (c("EUR"),)))]
    m = module(fn("main", {}, NONE, body), externs=[RATE])
    load(m, externs={"fetch_rate": lambda cur: 2 if cur == "EUR" else 0.0}).run_main([])
    assert capsys.readouterr().out == "2.0\n"
    with pytest.raises(NplRuntimeError) as info:
        load(m, externs={"fetch_rate": lambda cur: "lots"}).run_main([])
    assert info.value.kind == "extern"
    assert "declared to return float" in info.value.message
    with pytest.raises(NplRuntimeError) as info:
        load(m, externs={"fetch_rate": lambda cur: True}).run_main([])
    assert info.value.message == ("extern function 'fetch_rate' returned bool, "
                                  "but it is declared to return float")


def test_extern_that_raises_is_an_npl_error_naming_it():
    def broken(currency: str) -> float:
        raise ConnectionError("no network")
    body = [show(ir.Call(FLOAT, "fetch_rate", (c("EUR"),)))]
    program = load(module(fn("main", {}, NONE, body), externs=[RATE]),
                   externs={"fetch_rate": broken})
    with pytest.raises(NplRuntimeError) as info:
        program.run_main([])
    assert info.value.kind == "extern"
    assert info.value.message == ("extern function 'fetch_rate' failed: "
                                  "ConnectionError: no network")
    assert info.value.frames == [Frame("main", FILE, 2)]


def test_missing_extern_is_named():
    err = main_error([show(ir.Call(FLOAT, "fetch_rate", (c("EUR"),)))], externs=[RATE])
    assert err.kind == "extern" and "'fetch_rate'" in err.message
    assert err.frames == [Frame("main", FILE, 2)]


# ------------------------------------------------------------------ limits

def counting_loop(n: int) -> list[ir.Stmt]:
    return [ir.Assign("t", c(0)),
            ir.ForRange("i", c(0), c(n), c(1), [at(3, ir.Assign("t", add(v("t"), v("i"))))]),
            ir.Return(v("t"))]


def test_step_limit_counts_entries_and_iterations():
    m = module(fn("count", {}, INT, counting_loop(100)), main=None)
    program = load(m, step_limit=101)          # 1 entry + 100 iterations
    assert program.call("count") == 4950
    assert program.steps_used == 101
    with pytest.raises(NplRuntimeError) as info:
        load(m, step_limit=100).call("count")
    assert info.value.kind == "step_limit"
    assert info.value.frames == [Frame("count", FILE, 3)]


def test_step_limit_stops_infinite_loop_and_is_per_call():
    spin = fn("spin", {}, NONE, [ir.While(c(True), [at(3, ir.Assign("x", c(1)))])])
    program = load(module(spin, fn("one", {}, INT, [ir.Return(c(1))], line=5), main=None),
                   step_limit=5000)
    with pytest.raises(NplRuntimeError) as info:
        program.call("spin")
    assert info.value.message == "step limit exceeded (5000 steps)"
    assert program.call("one") == 1           # a fresh budget for each call


def test_step_limit_counts_comprehension_iterations():
    big = ir.Comp(ListT(INT), "list", v("x"),
                  (ir.Generator(("x",), False, p("range", IterT(INT), c(10 ** 9))),))
    m = module(fn("f", {}, INT, [ir.Return(p("len", INT, big))]), main=None)
    with pytest.raises(NplRuntimeError) as info:
        load(m, step_limit=10_000).call("f")
    assert info.value.kind == "step_limit"


def test_time_limit_stops_a_long_loop():
    spin = fn("spin", {}, NONE, [ir.While(c(True), [at(3, ir.Assign("x", c(1)))])])
    program = load(module(spin, main=None), time_limit=0.2)
    started = time.monotonic()
    with pytest.raises(NplRuntimeError) as info:
        program.call("spin")
    assert info.value.kind == "time_limit"
    assert time.monotonic() - started < 5


def test_no_instrumentation_without_limits():
    m = module(fn("count", {}, INT, counting_loop(3)), main=None)
    code, _ = compile_module(m, instrument=False)
    fn_code = next(k for k in code.co_consts if getattr(k, "co_name", "") == "count")
    assert "_steps" not in fn_code.co_names and "_refill" not in fn_code.co_names
    code, _ = compile_module(m, instrument=True)
    fn_code = next(k for k in code.co_consts if getattr(k, "co_name", "") == "count")
    assert "_steps" in fn_code.co_names


# ------------------------------------------------------------------ names and sandbox

def test_user_names_that_shadow_python_and_runtime_names(capsys):
    names = ["__import__", "print", "len", "_print", "_steps", "v_x", "open", "__builtins__"]
    body = [ir.Assign(name, c(i)) for i, name in enumerate(names)]
    body.append(show(*[v(name) for name in names]))
    body.append(show(p("len", INT, lst(INT, c(1)))))
    out = run_main(body, capsys)
    assert out == "0 1 2 3 4 5 6 7\n1\n"


def test_functions_named_like_builtins_and_helpers(capsys):
    user_print = fn("print", {"x": INT}, INT, [ir.Return(add(v("x"), c(1)))], line=10)
    user_helper = fn("_len", {}, INT, [ir.Return(c(40))], line=12)
    body = [show(ir.Call(INT, "print", (ir.Call(INT, "_len", ()),)))]
    assert run_main(body, capsys, user_print, user_helper) == "41\n"


def test_generated_code_cannot_reach_python_builtins():
    program = load(module(fn("main", {}, NONE, [])))
    ns = program.namespace
    assert set(ns["__builtins__"]) == {"__import__"}     # for NumPy's lazy imports only
    for dangerous in ("open", "__import__", "eval", "exec", "getattr", "compile", "type"):
        assert dangerous not in ns
    generated = re.compile(r"[fxSgtuc]\d+_\w*")
    assert all(name in HELPERS or name == "__builtins__" or generated.fullmatch(name)
               for name in ns), sorted(ns)
    assert all(name.startswith("_") for name in HELPERS)
    with pytest.raises(CodegenError):
        load(module(fn("main", {}, NONE, [show(ir.Global(INT, "open"))])))


def test_code_objects_carry_npl_names_files_and_lines():
    m = module(fn("main", {}, NONE, []), GET)
    program = load(m)
    get = program.namespace[next(k for k in program.namespace if k.endswith("_get"))]
    assert (get.__code__.co_name, get.__code__.co_filename) == ("get", FILE)
    assert get.__code__.co_firstlineno == 1


def test_run_test_for_examples_and_filtered_properties():
    x = v("x")
    example = ir.TestCase("example", "example@5", [], None,
                          cmp("eq", ir.Call(INT, "get", (lst(INT, c(4)), c(0))), c(4)), {},
                          span=sp(5))
    prop = ir.TestCase("property", "nonneg", [ir.Param("x", INT)], cmp("ge", x, c(0)),
                       cmp("ge", p("mul", INT, x, x), x), {"x": INT}, span=sp(7))
    program = load(module(GET, tests=[example, prop], main=None))
    assert program.run_test(example) is True
    assert program.run_test(prop, (3,)) is True
    assert program.run_test(prop, (-3,)) is None

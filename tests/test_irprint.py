"""The IR printer (compiler/irprint.py) and verifier (compiler/irverify.py) on
hand-built IR."""
from __future__ import annotations

import pytest

from npl.compiler import ir
from npl.compiler.irprint import print_expr, print_module
from npl.compiler.irverify import verify
from npl.lang.ast import Span
from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, DictT, FuncT, IterT, ListT, OptionalT,
                            StructT, TupleT)

FILE = "prog.npl"


def sp(line: int) -> Span:
    return Span(FILE, line, 1, line, 2)


def c(value, t=None):
    t = t or {bool: BOOL, int: INT, float: FLOAT, str: STR, type(None): NONE}[type(value)]
    return ir.Const(t, value)


def v(name, t=INT):
    return ir.Local(t, name)


def prim(op, t, *args, **kwargs):
    return ir.Prim(t, op, tuple(args), tuple(kwargs.items()))


def cmp(op, a, b):
    return ir.Compare(BOOL, (op,), (a, b))


POINT = ir.StructDef("Point", [ir.Param("x", FLOAT), ir.Param("y", FLOAT)], span=sp(1))


def sample_module() -> ir.Module:
    xs = v("xs", ListT(INT))
    get = ir.Function("get", [ir.Param("xs", ListT(INT)), ir.Param("i", INT)], INT,
                      [ir.Return(prim("getitem", INT, xs, v("i")), span=sp(6))],
                      {"xs": ListT(INT), "i": INT}, span=sp(5), source_name="get")
    evens = ir.Comp(ListT(INT), "list", v("x"),
                    (ir.Generator(("x",), False, xs, (cmp("eq", prim("mod", INT, v("x"), c(2)),
                                                            c(0)),)),))
    main_body = [
        ir.Assign("xs", ir.ListLit(ListT(INT), (c(1), c(2))), span=sp(9)),
        ir.ForRange("i", c(0), c(3), c(1), [
            ir.If(cmp("gt", v("i"), c(1)), [ir.Break(span=sp(11))],
                  [ir.ExprStmt(prim("list.append", NONE, xs, v("i")), span=sp(13))], span=sp(11))],
            span=sp(10)),
        ir.ExprStmt(prim("print", NONE, ir.Call(INT, "get", (xs, c(0))), evens,
                         sep=c("-")), span=sp(14)),
        ir.Assign("p", ir.MakeStruct(StructT("Point"), "Point", (c(1.0), c(2.5))), span=sp(15)),
        ir.SetField(v("p", StructT("Point")), "x", ir.GetField(FLOAT, v("p", StructT("Point")),
                                                               "y"), span=sp(16)),
    ]
    main = ir.Function("main", [], NONE, main_body,
                       {"xs": ListT(INT), "i": INT, "p": StructT("Point")}, span=sp(8),
                       source_name="main")
    k = ir.ConstDef("K", FLOAT, c(6.5), span=sp(3))
    example = ir.TestCase("example", "example@18", [], None,
                          cmp("eq", ir.Call(INT, "get", (ir.ListLit(ListT(INT), (c(4),)), c(0))),
                              c(4)), {}, span=sp(18))
    return ir.Module(FILE, [POINT], [k], [get, main], [], [example], main="main")


# ------------------------------------------------------------------ printer

def test_print_module_golden():
    expected = """\
# IR of prog.npl, main main()

struct Point:                                           # prog.npl:1
    x: float
    y: float

const K: float = 6.5:float                              # prog.npl:3

def get(xs: list[int], i: int) -> int:                  # prog.npl:5
    return (getitem:int xs:list[int] i:int)             # prog.npl:6

def main() -> None:                                     # prog.npl:8
    locals xs: list[int], i: int, p: Point
    xs = (list-lit:list[int] 1:int 2:int)               # prog.npl:9
    for i in range(0:int, 3:int, 1:int):                # prog.npl:10
        if (compare:bool i:int gt 1:int):               # prog.npl:11
            break                                       # prog.npl:11
        else:
            (list.append:None xs:list[int] i:int)       # prog.npl:13
    (print:None (call:int get xs:list[int] 0:int) (list-comp:list[int] x:int \
[for x in xs:list[int] if (compare:bool (mod:int x:int 2:int) eq 0:int)]) sep='-':str) # prog.npl:14
    p = (new Point:Point 1.0:float 2.5:float)           # prog.npl:15
    (p:Point).x = (field:float p:Point y)               # prog.npl:16

example example@18:                                     # prog.npl:18
    check (compare:bool (call:int get (list-lit:list[int] 4:int) 0:int) eq 4:int)
"""
    assert print_module(sample_module()) == expected


def test_print_is_deterministic_and_shows_every_type():
    m = sample_module()
    assert print_module(m) == print_module(sample_module())
    assert "xs:list[int]" in print_module(m)


def test_print_expressions_of_every_kind():
    lam = ir.Lambda(FuncT((INT,), INT), ("w",), prim("neg", INT, v("w")))
    assert print_expr(lam) == "(lambda:(int) -> int (w) (neg:int w:int))"
    d = ir.DictLit(DictT(STR, INT), (c("a"),), (c(1),))
    assert print_expr(d) == "(dict-lit:dict[str, int] 'a':str: 1:int)"
    assert print_expr(ir.Global(FLOAT, "G")) == "@G:float"
    hole = ir.HoleExpr(INT, "k1", "the answer")
    assert print_expr(hole) == "(hole:int k1 'the answer')"
    chain = ir.Compare(BOOL, ("lt", "le"), (c(1), v("x"), c(3)))
    assert print_expr(chain) == "(compare:bool 1:int lt x:int le 3:int)"
    cond = ir.IfExp(STR, c(True), c("a"), c("b"))
    assert print_expr(cond) == "(ifexp:str True:bool 'a':str 'b':str)"
    pairs = ir.Comp(ListT(INT), "list", v("a"), (ir.Generator(
        ("a", "b"), True, prim("zip", IterT(TupleT((INT, INT))), v("xs", ListT(INT)),
                               v("xs", ListT(INT)))),))
    assert "[for (a, b) in (zip:iterator[tuple[int, int]]" in print_expr(pairs)


def test_print_holes_kernels_and_tests():
    body = [ir.HoleBody("abc123", "count the vowels", span=sp(2))]
    f = ir.Function("count", [ir.Param("s", STR)], INT, body, {"s": STR}, span=sp(1),
                    kernel=True, source_name="count")
    prop = ir.TestCase("property", "nonneg", [ir.Param("x", INT)], cmp("ge", v("x"), c(0)),
                       cmp("ge", prim("abs", INT, v("x")), c(0)), {"x": INT}, span=sp(4))
    text = print_module(ir.Module(FILE, [], [], [f], [], [prop]))
    assert "def count(s: str) -> int: @kernel" in text
    assert "    hole abc123 'count the vowels'" in text
    assert "property nonneg(x: int):" in text
    assert "    where (compare:bool x:int ge 0:int)" in text


# ------------------------------------------------------------------ verifier

def test_well_formed_module_has_no_problems():
    assert verify(sample_module()) == []


def one_function(body, locals_=None, ret=NONE, params=()):
    f = ir.Function("f", list(params), ret, body, dict(locals_ or {}), span=sp(1))
    return ir.Module(FILE, [POINT], [], [f], [], [])


def problems_of(body, **kw) -> str:
    found = verify(one_function(body, **kw))
    assert found, "expected the verifier to report a problem"
    return "\n".join(found)


def test_undeclared_local_is_reported():
    assert "local 'ghost' is not declared" in problems_of([ir.Return(v("ghost"), span=sp(2))],
                                                          ret=INT)


def test_comprehension_and_lambda_variables_are_in_scope_only_inside():
    comp = ir.Comp(ListT(INT), "list", v("x"),
                   (ir.Generator(("x",), False, ir.ListLit(ListT(INT), (c(1),))),))
    lam = ir.Lambda(FuncT((INT,), INT), ("y",), v("y"))
    ok = one_function([ir.ExprStmt(comp), ir.ExprStmt(prim("map", IterT(INT), lam,
                                                             ir.ListLit(ListT(INT), ())))])
    assert verify(ok) == []
    assert "local 'x' is not declared" in problems_of([ir.ExprStmt(comp), ir.ExprStmt(v("x"))])


def test_calls_are_checked_for_target_arity_and_argument_types():
    assert "unknown function 'nope'" in problems_of([ir.ExprStmt(ir.Call(INT, "nope", ()))])
    g = ir.Function("g", [ir.Param("n", INT)], INT, [ir.Return(v("n"))], {"n": INT})
    m = one_function([ir.ExprStmt(ir.Call(INT, "g", ())),
                      ir.ExprStmt(ir.Call(INT, "g", (c("s"),)))])
    m.functions.append(g)
    text = "\n".join(verify(m))
    assert "g takes 1 argument(s), called with 0" in text
    assert "argument 'n' of g is str, expected int" in text


def test_unknown_prim_and_bad_compare_arity():
    assert "unknown primitive 'frobnicate'" in problems_of(
        [ir.ExprStmt(prim("frobnicate", INT, c(1)))])
    bad = ir.Compare(BOOL, ("lt", "lt"), (c(1), c(2)))
    assert "comparison with 2 operator(s) has 2 operand(s)" in problems_of([ir.ExprStmt(bad)])


def test_return_and_assign_types_must_fit():
    text = problems_of([ir.Return(c("no"), span=sp(2))], ret=INT)
    assert "prog.npl:2" in text and "returned value has type str, expected int" in text
    assert "return without a value" in problems_of([ir.Return(None)], ret=INT)
    text = problems_of([ir.Assign("n", c(1.5))], locals_={"n": INT})
    assert "assignment to 'n' has type float, expected int" in text


def test_int_widening_and_optional_values_are_accepted():
    body = [ir.Assign("x", c(1)), ir.Assign("o", c(None)), ir.Assign("o", c(2)),
            ir.Return(v("o"))]
    assert verify(one_function(body, {"x": FLOAT, "o": OptionalT(INT)}, ret=OptionalT(INT))) == []


def test_break_and_continue_outside_loops():
    assert "break outside a loop" in problems_of([ir.Break()])
    assert "continue outside a loop" in problems_of(
        [ir.If(c(True), [ir.Continue()], [])])
    inside = [ir.While(c(True), [ir.If(c(True), [ir.Break()], [ir.Continue()])])]
    assert verify(one_function(inside)) == []


def test_conditions_must_be_bool():
    assert "if condition has type int, not bool" in problems_of([ir.If(c(1), [], [])])
    truthy = ir.If(prim("truthy", BOOL, c(1)), [], [])
    assert verify(one_function([truthy])) == []


def test_struct_fields_and_constructors_are_checked():
    pt = v("p", StructT("Point"))
    text = problems_of([ir.SetField(pt, "z", c(1.0)),
                        ir.ExprStmt(ir.MakeStruct(StructT("Point"), "Point", (c(1.0),))),
                        ir.ExprStmt(ir.MakeStruct(StructT("Nope"), "Nope", ()))],
                       locals_={"p": StructT("Point")})
    assert "struct Point has no field 'z'" in text
    assert "struct Point has 2 field(s), built with 1" in text
    assert "unknown struct 'Nope'" in text


def test_duplicate_names_and_unknown_globals():
    f = ir.Function("f", [], NONE, [ir.ExprStmt(ir.Global(INT, "MISSING"))], {})
    m = ir.Module(FILE, [POINT, POINT], [], [f, f], [], [])
    text = "\n".join(verify(m))
    assert "two functions or externs are named 'f'" in text
    assert "two structs are named 'Point'" in text
    assert "global 'MISSING' is not a constant" in text


@pytest.mark.parametrize("build", [
    lambda: ir.Unpack(("a", "b"), ir.TupleLit(TupleT((INT,)), (c(1),))),
    lambda: ir.ForEach(("a",), False, c(3), []),
])
def test_unpack_arity_and_iterability(build):
    assert problems_of([build()], locals_={"a": INT, "b": INT})

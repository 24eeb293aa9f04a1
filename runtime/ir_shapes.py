"""Shapes of IR expressions that runtime/codegen.py compiles specially.

Takes IR nodes (compiler/ir.py) and answers questions about them: is a
function's body one expression that can never raise (`inlinable_body`,
`total`: the caller inlines it), is a comparison `len(x) > 0` on a
container (`emptiness_test`: x's own truth value), what literal a node is
(`constant`, `is_const`), what kind of sequence a type is (`sequence_kind`:
which error message an index error gets), and whether a test's failure can
show both sides (`explainable`). Pure functions: no code is generated here.
"""
from __future__ import annotations

from typing import Optional

from npl.compiler import ir
from npl.lang.types import BOOL, FLOAT, INT, STR, DictT, ListT, SetT, TupleT


def sequence_kind(t) -> Optional[str]:
    if isinstance(t, ListT):
        return "list"
    if t == STR:
        return "string"
    if isinstance(t, TupleT):
        return "tuple"
    return None


NUMBERS = (INT, FLOAT)
ORDER_OPS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})


def inlinable_body(fn: ir.Function) -> Optional[ir.Expr]:
    """The expression of a function whose body is `return EXPR` with EXPR
    total (see ModuleCompiler._inline), else None."""
    if len(fn.body) != 1 or not isinstance(fn.body[0], ir.Return) or fn.body[0].value is None:
        return None
    expr = fn.body[0].value
    if expr.type not in NUMBERS and expr.type != BOOL:
        return None
    return expr if total(expr, {p.name for p in fn.params}) else None


def total(e: ir.Expr, params: set[str]) -> bool:
    """Can evaluating `e` never raise (given its operands' static types)?"""
    if isinstance(e, ir.Const):
        return type(e.value) in (int, float, bool)
    if isinstance(e, ir.Local):
        return e.name in params
    if isinstance(e, ir.Prim):
        if e.kwargs or e.type not in NUMBERS or any(a.type != e.type for a in e.args):
            return False
        if e.op in ("add", "sub", "mul") and len(e.args) == 2:
            return all(total(a, params) for a in e.args)
        if e.op in ("neg", "pos") and len(e.args) == 1:
            return total(e.args[0], params)
        if e.op in ("floordiv", "mod") and len(e.args) == 2:
            divisor = constant(e.args[1])
            return total(e.args[0], params) and divisor is not None and divisor != 0
        return False
    if isinstance(e, ir.Compare):
        return all(op in ORDER_OPS for op in e.ops) \
            and all(o.type in NUMBERS and total(o, params) for o in e.operands)
    if isinstance(e, (ir.And, ir.Or)):
        return all(total(v, params) for v in e.values)
    if isinstance(e, ir.IfExp):
        return all(total(x, params) for x in (e.test, e.body, e.orelse))
    return False


def constant(e: ir.Expr):
    """The value of an int or float literal (`3`, `-3`, `2.5`), else None."""
    if isinstance(e, ir.Prim) and e.op == "neg" and len(e.args) == 1:
        inner = constant(e.args[0])
        return None if inner is None else -inner
    if isinstance(e, ir.Const) and type(e.value) in (int, float):
        return e.value
    return None


def emptiness_test(e: ir.Expr) -> Optional[tuple[ir.Expr, bool]]:
    """`len(x) > 0`, `len(x) != 0` (x, False) or `len(x) == 0` (x, True) for
    a str, list, dict, set or tuple x: in a test position that is x's own
    truth value (no call of len), exactly."""
    if not (isinstance(e, ir.Compare) and len(e.ops) == 1 and e.ops[0] in ("gt", "ne", "eq")):
        return None
    sized, zero = e.operands
    if not (isinstance(sized, ir.Prim) and sized.op == "len" and len(sized.args) == 1
            and not sized.kwargs and is_const(zero, 0)):
        return None
    container = sized.args[0]
    t = container.type
    if not (t == STR or isinstance(t, (ListT, DictT, SetT, TupleT))):
        return None
    return container, e.ops[0] == "eq"


def explainable(test: ir.TestCase) -> bool:
    return isinstance(test.expr, ir.Compare) and len(test.expr.ops) == 1


def is_const(e: ir.Expr, value: int) -> bool:
    return isinstance(e, ir.Const) and type(e.value) is int and e.value == value

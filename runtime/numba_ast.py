"""Building blocks of the Numba code generator (runtime/numba_codegen.py):
the Python `ast` constructors it and runtime/numba_prims.py write code
with, the NPL-to-NumPy/Numba type names, and the error for what the
back end cannot lower."""
from __future__ import annotations

import ast
import math

from npl.lang.types import BOOL, FLOAT, INT, ArrayT, TupleT, Type

from .jitcache import encode_name

CMP = {"eq": ast.Eq, "ne": ast.NotEq, "lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE}
NP_DTYPE = {FLOAT: "float64", INT: "int64", BOOL: "bool_"}
NB_SCALAR = {FLOAT: "float64", INT: "int64", BOOL: "boolean"}
# numba_rt guard checking the argument of each math function (Python raises
# "math domain error" where the guard fails; exp is checked on its result)
DOMAIN_GUARDS = {"sqrt": "ge0", "log": "gt0", "log2": "gt0", "log10": "gt0", "sin": "finite",
                 "cos": "finite", "tan": "finite", "asin": "unit", "acos": "unit"}
ERR_TYPE = "int64[::1]"


class NotLowerable(Exception):
    """The function uses something the Numba back end does not support
    (internal: the function then stays interpreted)."""


def py_local(name: str) -> str:
    """The Python name of NPL local `name` in generated code."""
    if name.isidentifier() and name.isascii():
        return "v_" + name
    return "w_" + encode_name(name)


def name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id_, ast.Store() if store else ast.Load())


def attr(obj: str, *path: str) -> ast.expr:
    node: ast.expr = name(obj)
    for p in path:
        node = ast.Attribute(node, p, ast.Load())
    return node


def call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func, list(args), [])


def const(v) -> ast.expr:
    return ast.Constant(v)


def zero_of(t: Type) -> ast.expr:
    """A harmless value of type `t` (what a flagging function returns after
    a failure)."""
    if t == FLOAT:
        return const(0.0)
    if t == INT:
        return const(0)
    if t == BOOL:
        return const(False)
    if isinstance(t, TupleT):
        return ast.Tuple([zero_of(e) for e in t.elems], ast.Load())
    if isinstance(t, ArrayT):
        shape = ast.Tuple([const(0)] * t.rank, ast.Load())
        return call(attr("np", "zeros"), shape, attr("np", NP_DTYPE[t.elem]))
    return const(None)


def literal(value) -> ast.expr:
    if isinstance(value, bool) or value is None:
        return const(value)
    if isinstance(value, int):
        if not -(2 ** 63) <= value < 2 ** 63:
            raise NotLowerable(f"int constant {value} (beyond int64)")
        return const(value)
    if isinstance(value, float):
        if math.isnan(value):
            return attr("math", "nan")
        if math.isinf(value):
            return attr("math", "inf") if value > 0 else ast.UnaryOp(ast.USub(), attr("math", "inf"))
        return const(value)
    if isinstance(value, tuple):
        return ast.Tuple([literal(v) for v in value], ast.Load())
    raise NotLowerable(f"constant of type {type(value).__name__}")

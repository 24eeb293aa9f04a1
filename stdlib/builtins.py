"""NPL's built-ins, for the code-object runtime.

One table, `PRIMS`, maps every IR primitive op (compiler/ir.py PRIM_OPS) to a
builder. A builder takes the `ir.Prim` node and its already-compiled operands
(Python `ast` expressions) and gives back the Python `ast` expression that
computes it: mostly the plain Python operation (`a + b`, `len(x)`,
`s.upper()`), because NPL's semantics match Python's there. The builder may
look at the operands' static types to choose (e.g. `sum` of an array vs of a
list). `HELPERS` (with `array_helpers()`, stdlib/helpers.py) is the other
half: every runtime object generated code may refer to, by the name it is
bound to in the program's namespace. Nothing else (no Python built-in) is
reachable from generated code.

Helper names start with `_`; user names are always mangled with a letter
prefix (runtime/codegen.py), so the two can never collide.
"""
from __future__ import annotations

import ast
import copy
from typing import Callable

from npl.compiler import ir
from npl.lang.builtin_sigs import HEAP_FUNCTIONS, INT_MATH_FUNCS
from npl.lang.types import FLOAT, INT, ArrayT, IterT, ListT, SetT, Type
from npl.runtime.values import type_has_array

# The run-time half: the helper table and the helpers themselves (no NumPy
# until a program uses arrays).
from .helpers import (ARRAY_HELPER_NAMES, HELPERS, array_helpers, array_max,  # noqa: F401
                      array_min, array_sum, assert_failed, dot_scalar, float_pow,
                      hole_reached, int_pow)

Builder = Callable[[ir.Prim, list[ast.expr], list[ast.keyword]], ast.expr]


# ------------------------------------------------------------------ ast helpers

def helper(name: str) -> ast.Name:
    assert name in HELPERS or name in ARRAY_HELPER_NAMES, name
    return ast.Name(name, ast.Load())


def call(name: str, args: list[ast.expr], keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(helper(name), args, keywords or [])


def method(receiver: ast.expr, name: str, args: list[ast.expr],
           keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(ast.Attribute(receiver, name, ast.Load()), args, keywords or [])


def is_array(t: Type) -> bool:
    return isinstance(t, ArrayT)


def as_iterable(expr: ast.expr, t: Type) -> ast.expr:
    """Iterating a 1-D array must give Python scalars, not NumPy scalars."""
    if isinstance(t, ArrayT) and t.rank == 1:
        return method(expr, "tolist", [])
    return expr


def _iter_args(node: ir.Prim, args: list[ast.expr]) -> list[ast.expr]:
    return [as_iterable(a, n.type) for a, n in zip(args, node.args)]


# ------------------------------------------------------------------ builders

def binop(op: ast.operator) -> Builder:
    return lambda node, args, kw: ast.BinOp(args[0], op, args[1])


def unop(op: ast.unaryop) -> Builder:
    return lambda node, args, kw: ast.UnaryOp(op, args[0])


def py_call(name: str, iterable_args: bool = False) -> Builder:
    def build(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
        return call(name, _iter_args(node, args) if iterable_args else args, kw)
    return build


def py_method(name: str) -> Builder:
    return lambda node, args, kw: method(args[0], name, args[1:], kw)


def view_method(name: str) -> Builder:
    """dict.keys/values/items: a list when the IR types them as a list."""
    def build(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
        view = method(args[0], name, args[1:], kw)
        return call("_list", [view]) if isinstance(node.type, ListT) else view
    return build


def math_fn(name: str) -> Builder:
    """math.* on scalars, the NumPy ufunc on arrays (elementwise)."""
    def build(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
        if not any(is_array(a.type) for a in node.args):
            return call("_m_" + name, args, kw)
        if name == "log" and len(args) == 2:      # log(a, base): NumPy's 2nd arg is `out`
            return ast.BinOp(call("_np_log", args[:1]), ast.Div(), call("_m_log", args[1:]))
        return call("_np_" + name, args, kw)
    return build


def build_pow(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    if len(args) == 3:
        return call("_pow", args)
    base, exponent = args
    exp_node = node.args[1]
    literal = isinstance(exp_node, ir.Const) and type(exp_node.value) in (int, float)
    if is_array(node.type) or is_array(node.args[0].type):
        return ast.BinOp(base, ast.Pow(), exponent)
    if node.type == INT:
        if literal and exp_node.value >= 0:
            return ast.BinOp(base, ast.Pow(), exponent)
        return call("_int_pow", [base, exponent])
    if literal and float(exp_node.value).is_integer():
        return ast.BinOp(base, ast.Pow(), exponent)
    return call("_float_pow", [base, exponent])


def build_int_to_float(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    arg = node.args[0]
    if isinstance(arg, ir.Const) and type(arg.value) is int:
        try:
            return ast.Constant(float(arg.value))
        except OverflowError:
            pass
    return call("_float", args)


def build_getitem(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    container, indices = args[0], args[1:]
    ctype = node.args[0].type
    if isinstance(ctype, ArrayT) and len(indices) == ctype.rank:
        return method(container, "item", indices)
    index = indices[0] if len(indices) == 1 else ast.Tuple(indices, ast.Load())
    return ast.Subscript(container, index, ast.Load())


def build_slice(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    container, lower, upper, step = args
    parts = [None if isinstance(a, ast.Constant) and a.value is None else a
             for a in (lower, upper, step)]
    return ast.Subscript(container, ast.Slice(*parts), ast.Load())


def build_print(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    shown = [call("_npl_str", [a]) if type_has_array(n.type) else a
             for a, n in zip(args, node.args)]
    return call("_print", shown, kw)


def text_of(name: str, npl_name: str) -> Builder:
    """str(x) / repr(x): Python's, unless an array hides inside."""
    def build(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
        if not args:
            return ast.Constant("")
        return call(npl_name if type_has_array(node.args[0].type) else name, args, kw)
    return build


def build_format(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    name = "_npl_format" if type_has_array(node.args[0].type) else "_format"
    return call(name, args)


def build_concat(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    """f-string: a Python JoinedStr (the fastest way CPython builds text)."""
    values: list[ast.expr] = []
    for part, compiled in zip(node.args, args):
        if isinstance(compiled, ast.Constant) and isinstance(compiled.value, str):
            values.append(compiled)
        else:
            values.append(_formatted_part(part, compiled))
    return ast.JoinedStr(values)


def _formatted_part(part: ir.Expr, compiled: ast.expr) -> ast.FormattedValue:
    if isinstance(compiled, ast.Call) and isinstance(compiled.func, ast.Name):
        inner = compiled.args
        if compiled.func.id == "_format" and isinstance(inner[1], ast.Constant):
            spec = inner[1].value
            spec_ast = ast.JoinedStr([ast.Constant(spec)]) if spec else None
            return ast.FormattedValue(inner[0], -1, spec_ast)
        if compiled.func.id == "_repr":
            return ast.FormattedValue(inner[0], ord("r"), None)
    return ast.FormattedValue(compiled, -1, None)


def build_list(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    if not args:
        return ast.List([], ast.Load())
    t = node.args[0].type
    if isinstance(t, ArrayT) and t.rank == 1:
        return method(args[0], "tolist", [])
    return call("_list", args)


def reduction(name: str) -> Builder:
    """sum/min/max: NumPy's reduction for one array argument, else Python's
    (min/max of two plain int or float variables or constants inline)."""
    def build(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
        if len(args) == 1 and is_array(node.args[0].type) and not kw:
            return call(f"_array_{name}", args)
        if name in ("min", "max") and _two_plain_numbers(node, kw):
            return _min_max(name, args[0], args[1])
        if name == "sum" and len(args) == 1 and _element(node.args[0].type) == FLOAT:
            return call("_sum", [args[0], ast.Constant(0.0)])
        return call(f"_{name}", _iter_args(node, args), kw)
    return build


def _two_plain_numbers(node: ir.Prim, kw: list[ast.keyword]) -> bool:
    """Two operands of the same type, int or float, each a local or a
    constant (reading them twice is free and has no effect)."""
    if kw or len(node.args) != 2:
        return False
    a, b = node.args
    return a.type == b.type and a.type in (INT, FLOAT) \
        and all(isinstance(x, (ir.Local, ir.Const)) for x in node.args)


def _min_max(name: str, a: ast.expr, b: ast.expr) -> ast.expr:
    """Python's max(a, b) keeps a unless b > a, min(a, b) unless b < a; for
    numbers `a < b` is `b > a` (NaN included), so `b if a < b else a` is
    max(a, b) exactly, evaluating a first as max does, without the call."""
    test = ast.Compare(a, [ast.Lt() if name == "max" else ast.Gt()], [copy.copy(b)])
    return ast.IfExp(test, b, copy.copy(a))


def _element(t: Type):
    return t.elem if isinstance(t, (ListT, SetT, IterT)) else None


def array_ctor(name: str) -> Builder:
    """zeros/ones/empty/full/arange/array: dtype from the node's static type.
    `empty` is zero-filled, so that runs are deterministic."""
    numpy_name = {"empty": "zeros"}.get(name, name)

    def build(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
        assert isinstance(node.type, ArrayT), node.type
        dtype = ast.keyword("dtype", helper("_dt_" + node.type.elem.name))
        return call(f"_np_{numpy_name}", args, [dtype])
    return build


def build_dot(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    return call("_np_dot" if is_array(node.type) else "_dot_scalar", args)


def build_tuple(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    """tuple(xs) for a tuple type of one element type: its length checked."""
    return call("_tuple_of", [*_iter_args(node, args), ast.Constant(len(node.type.elems))])


def build_truthy(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    return call("_bool", args)


def build_shape(node: ir.Prim, args: list[ast.expr], kw: list[ast.keyword]) -> ast.expr:
    return ast.Attribute(args[0], "shape", ast.Load())


_STR_METHODS = """lower upper strip lstrip rstrip split splitlines join replace startswith
endswith find rfind index count isdigit isalpha isalnum isspace isupper islower title
capitalize swapcase zfill center ljust rjust partition""".split()
_LIST_METHODS = "append pop insert extend remove index count copy clear sort reverse".split()
_DICT_METHODS = "get pop copy setdefault update clear".split()
_COUNTER_METHODS = "most_common elements total copy update subtract".split()
_SET_METHODS = """add remove discard pop copy clear union intersection difference issubset
issuperset""".split()

PRIMS: dict[str, Builder] = {
    # operators
    "add": binop(ast.Add()), "sub": binop(ast.Sub()), "mul": binop(ast.Mult()),
    "truediv": binop(ast.Div()), "floordiv": binop(ast.FloorDiv()), "mod": binop(ast.Mod()),
    "pow": build_pow, "neg": unop(ast.USub()), "pos": unop(ast.UAdd()), "not": unop(ast.Not()),
    "bitor": binop(ast.BitOr()), "bitand": binop(ast.BitAnd()), "bitxor": binop(ast.BitXor()),
    "bitsub": binop(ast.Sub()), "lshift": binop(ast.LShift()), "rshift": binop(ast.RShift()),
    "int_to_float": build_int_to_float, "truthy": build_truthy,
    "getitem": build_getitem, "slice": build_slice, "setslice": py_call("_set_slice"),
    # general built-ins
    "print": build_print, "len": py_call("_len"), "range": py_call("_range"),
    "enumerate": py_call("_enumerate", True), "zip": py_call("_zip", True),
    "list": build_list, "set": py_call("_set", True), "dict": py_call("_dict"),
    "tuple": build_tuple, "abs": py_call("_abs"),
    "min": reduction("min"), "max": reduction("max"), "sum": reduction("sum"),
    "sorted": py_call("_sorted", True), "reversed": py_call("_reversed", True),
    "map": py_call("_map", True), "filter": py_call("_filter", True),
    "any": py_call("_any", True), "all": py_call("_all", True),
    "next": lambda node, args, kw: call("_next", [as_iterable(args[0], node.args[0].type),
                                                  *args[1:]]),
    "str": text_of("_str", "_npl_str"), "int": py_call("_int"), "float": py_call("_float"),
    "bool": py_call("_bool"), "round": py_call("_round"), "divmod": py_call("_divmod"),
    "ord": py_call("_ord"), "chr": py_call("_chr"), "hex": py_call("_hex"),
    "bin": py_call("_bin"), "Counter": py_call("_Counter", True),
    # integer math (Python's math functions of ints)
    **{name: py_call(f"_m_{name}") for name in INT_MATH_FUNCS},
    # heaps (Python's heapq: a list is the heap)
    **{name: py_call(f"_{name}", name in ("nlargest", "nsmallest")) for name in HEAP_FUNCTIONS},
    # itertools
    "combinations": py_call("_combinations", True), "permutations": py_call("_permutations", True),
    # math
    **{name: math_fn(name) for name in (
        "sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan",
        "atan2", "floor", "ceil", "isnan", "isinf")},
    # arrays
    **{name: array_ctor(name) for name in ("zeros", "ones", "empty", "full", "arange", "array")},
    "copy": py_call("_np_copy"), "dot": build_dot, "array.shape": build_shape,
    # f-strings
    "format": build_format, "repr": text_of("_repr", "_npl_repr"), "concat": build_concat,
    # methods
    **{f"str.{m}": py_method(m) for m in _STR_METHODS},
    **{f"list.{m}": py_method(m) for m in _LIST_METHODS},
    **{f"dict.{m}": py_method(m) for m in _DICT_METHODS},
    **{f"dict.{m}": view_method(m) for m in ("keys", "values", "items")},
    **{f"set.{m}": py_method(m) for m in _SET_METHODS if m != "pop"},
    **{f"Counter.{m}": py_method(m) for m in _COUNTER_METHODS},
    "set.pop": py_call("_set_pop"),
}

missing = ir.PRIM_OPS - PRIMS.keys()
assert not missing, f"built-ins without an implementation: {sorted(missing)}"
del missing

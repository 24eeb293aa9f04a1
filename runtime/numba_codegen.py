"""IR functions in, Python source for Numba out.

Kernel-eligible IR functions (lang/kernels.py) use only int, float, bool,
arrays and tuples of those, so they lower to the subset of Python that
Numba's nopython mode compiles: NumPy for the array built-ins, `math` for
the scalar ones, `numba.prange` for prange loops. The source is built as a
Python `ast` and unparsed (no string templating of user text; kernels hold
no strings anyway), then written to a file in the JIT cache so that Numba's
own on-disk cache can key on it (runtime/jit.py).

Each function gets an explicit Numba signature derived from its NPL types
(int -> int64, float -> float64, bool -> boolean, array[T, N] -> T[:, ::1],
C-contiguous), so the compiled code is exactly as typed as the NPL source.
runtime/jit.py runs calls whose arrays are not C-contiguous (views made by
slicing) in the interpreter instead.
"""
from __future__ import annotations

import ast
import math
from typing import Optional

from npl.compiler import ir
from npl.lang.types import BOOL, FLOAT, INT, NONE, ArrayT, PrimT, TupleT, Type

BIN = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "truediv": ast.Div,
       "floordiv": ast.FloorDiv, "mod": ast.Mod, "pow": ast.Pow, "bitand": ast.BitAnd,
       "bitor": ast.BitOr, "bitxor": ast.BitXor}
CMP = {"eq": ast.Eq, "ne": ast.NotEq, "lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE}
MATH1 = {"sqrt", "exp", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan", "isnan", "isinf"}
NP_DTYPE = {FLOAT: "float64", INT: "int64", BOOL: "bool_"}
NB_SCALAR = {FLOAT: "float64", INT: "int64", BOOL: "boolean"}


class NotLowerable(Exception):
    """The function uses something the Numba back end does not support."""


def py_function_name(ir_name: str) -> str:
    return "k_" + "".join(c if c.isalnum() and c.isascii() else f"_{ord(c):x}_" for c in ir_name)


def py_local(name: str) -> str:
    if name.isidentifier() and name.isascii():
        return "v_" + name
    return "w_" + "".join(c if c.isalnum() and c.isascii() else f"_{ord(c):x}_" for c in name)


def numba_type(t: Type) -> str:
    """Numba type expression (text, over the `numba.types` names) for `t`."""
    if t in NB_SCALAR:
        return NB_SCALAR[t]
    if isinstance(t, ArrayT):
        dims = [":"] * (t.rank - 1) + ["::1"]
        return f"{NB_SCALAR[t.elem]}[{', '.join(dims)}]"
    if isinstance(t, TupleT):
        return "Tuple((" + ", ".join(numba_type(e) for e in t.elems) + ",))"
    if t == NONE:
        return "none"
    raise NotLowerable(f"type {t}")


def signature(fn: ir.Function) -> str:
    return f"{numba_type(fn.ret)}({', '.join(numba_type(p.type) for p in fn.params)})"


def name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id_, ast.Store() if store else ast.Load())


def attr(obj: str, *path: str) -> ast.expr:
    node: ast.expr = name(obj)
    for p in path:
        node = ast.Attribute(node, p, ast.Load())
    return node


def call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func, list(args), [])


class KernelLowerer:
    def __init__(self, module: ir.Module):
        self.module = module

    def function(self, fn: ir.Function) -> ast.FunctionDef:
        if any(isinstance(s, ir.HoleBody) for s in fn.body):
            raise NotLowerable("unfilled hole")
        args = ast.arguments([], [ast.arg(py_local(p.name)) for p in fn.params], None, [], [], None, [])
        body = self.block(fn.body) or [ast.Pass()]
        return ast.FunctionDef(py_function_name(fn.name), args, body, [], None)

    def block(self, stmts) -> list[ast.stmt]:
        out = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: ir.Stmt) -> list[ast.stmt]:
        if isinstance(s, ir.Assign):
            return [ast.Assign([name(py_local(s.name), True)], self.expr(s.value))]
        if isinstance(s, ir.Unpack):
            target = ast.Tuple([name(py_local(n), True) for n in s.names], ast.Store())
            return [ast.Assign([target], self.expr(s.value))]
        if isinstance(s, ir.SetItem):
            index = self.index(s.indices)
            return [ast.Assign([ast.Subscript(self.expr(s.obj), index, ast.Store())], self.expr(s.value))]
        if isinstance(s, ir.If):
            return [ast.If(self.expr(s.test), self.block(s.body) or [ast.Pass()], self.block(s.orelse))]
        if isinstance(s, ir.While):
            return [ast.While(self.expr(s.test), self.block(s.body) or [ast.Pass()], [])]
        if isinstance(s, ir.ForRange):
            fn = attr("numba", "prange") if s.parallel else name("range")
            it = call(fn, self.expr(s.start), self.expr(s.stop), self.expr(s.step))
            return [ast.For(name(py_local(s.var), True), it, self.block(s.body) or [ast.Pass()], [])]
        if isinstance(s, ir.ForEach):
            return [self.for_each(s)]
        if isinstance(s, ir.Break):
            return [ast.Break()]
        if isinstance(s, ir.Continue):
            return [ast.Continue()]
        if isinstance(s, ir.Return):
            return [ast.Return(self.expr(s.value) if s.value is not None else None)]
        if isinstance(s, ir.ExprStmt):
            return [ast.Expr(self.expr(s.value))]
        if isinstance(s, ir.Assert):
            return [ast.Assert(self.expr(s.test), None)]
        raise NotLowerable(type(s).__name__)

    def for_each(self, s: ir.ForEach) -> ast.stmt:
        if not isinstance(s.iter.type, ArrayT):
            raise NotLowerable("for over a non-array")
        if s.unpack:
            target = ast.Tuple([name(py_local(n), True) for n in s.targets], ast.Store())
        else:
            target = name(py_local(s.targets[0]), True)
        return ast.For(target, self.expr(s.iter), self.block(s.body) or [ast.Pass()], [])

    def index(self, indices) -> ast.expr:
        if len(indices) == 1:
            return self.expr(indices[0])
        return ast.Tuple([self.expr(i) for i in indices], ast.Load())

    # ------------------------------------------------------------ expressions
    def expr(self, e: ir.Expr) -> ast.expr:
        method = getattr(self, "x_" + type(e).__name__, None)
        if method is None:
            raise NotLowerable(type(e).__name__)
        return method(e)

    def x_Const(self, e: ir.Const) -> ast.expr:
        v = e.value
        if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
            return attr("math", "inf" if math.isinf(v) else "nan") if v > 0 or math.isnan(v) else \
                ast.UnaryOp(ast.USub(), attr("math", "inf"))
        if isinstance(v, str):
            raise NotLowerable("str constant")
        return ast.Constant(v)

    def x_Local(self, e: ir.Local) -> ast.expr:
        return name(py_local(e.name))

    def x_Global(self, e: ir.Global) -> ast.expr:
        raise NotLowerable("module constants")

    def x_Call(self, e: ir.Call) -> ast.expr:
        return call(name(py_function_name(e.func)), *(self.expr(a) for a in e.args))

    def x_Compare(self, e: ir.Compare) -> ast.expr:
        if any(op not in CMP for op in e.ops):
            raise NotLowerable("comparison")
        ops = [CMP[o]() for o in e.ops]
        return ast.Compare(self.expr(e.operands[0]), ops, [self.expr(x) for x in e.operands[1:]])

    def x_And(self, e: ir.And) -> ast.expr:
        return ast.BoolOp(ast.And(), [self.expr(v) for v in e.values])

    def x_Or(self, e: ir.Or) -> ast.expr:
        return ast.BoolOp(ast.Or(), [self.expr(v) for v in e.values])

    def x_IfExp(self, e: ir.IfExp) -> ast.expr:
        return ast.IfExp(self.expr(e.test), self.expr(e.body), self.expr(e.orelse))

    def x_TupleLit(self, e: ir.TupleLit) -> ast.expr:
        return ast.Tuple([self.expr(x) for x in e.elts], ast.Load())

    def x_Prim(self, e: ir.Prim) -> ast.expr:
        op, args = e.op, [self.expr(a) for a in e.args]
        if op in BIN:
            return ast.BinOp(args[0], BIN[op](), args[1])
        if op == "neg":
            return ast.UnaryOp(ast.USub(), args[0])
        if op == "pos":
            return args[0]
        if op == "not":
            return ast.UnaryOp(ast.Not(), args[0])
        if op == "truthy":
            return ast.Compare(args[0], [ast.NotEq()], [ast.Constant(0)])
        if op == "int_to_float":
            return call(name("float"), args[0])
        if op == "getitem":
            return ast.Subscript(args[0], self.index(e.args[1:]), ast.Load())
        if op == "slice":
            parts = [None if isinstance(a, ir.Const) and a.value is None else x for a, x in zip(e.args[1:], args[1:])]
            return ast.Subscript(args[0], ast.Slice(*parts), ast.Load())
        return self.builtin(e, op, args)

    def builtin(self, e: ir.Prim, op: str, args: list[ast.expr]) -> ast.expr:
        arg_types = [a.type for a in e.args]
        if op in MATH1:
            if isinstance(arg_types[0], ArrayT):
                return call(attr("np", op), *args)
            return call(attr("math", op), *args)
        if op == "log":
            if len(args) == 2:
                return ast.BinOp(call(attr("math", "log"), args[0]), ast.Div(), call(attr("math", "log"), args[1]))
            return call(attr("math", "log"), args[0])
        if op == "atan2":
            return call(attr("math", "atan2"), *args)
        if op in ("floor", "ceil"):
            return call(name("int"), call(attr("math", op), args[0]))
        if op in ("int", "float", "bool", "abs", "round", "len"):
            return call(name(op), *args)
        if op in ("min", "max", "sum"):
            if len(args) == 1 and isinstance(arg_types[0], ArrayT):
                return call(attr("np", op), args[0])
            if op != "sum":
                return call(name(op), *args)
        if op == "array.shape":
            return ast.Attribute(args[0], "shape", ast.Load())
        if op in ("zeros", "ones", "empty"):
            return call(attr("np", op), args[0], attr("np", NP_DTYPE[e.type.elem]))
        if op == "full":
            return call(attr("np", "full"), args[0], args[1], attr("np", NP_DTYPE[e.type.elem]))
        if op == "arange":
            return call(attr("np", "arange"), *args)
        if op == "copy":
            return call(ast.Attribute(args[0], "copy", ast.Load()))
        if op == "dot":
            return call(name(f"_npl_dot{arg_types[0].rank}{arg_types[1].rank}"), *args)
        raise NotLowerable(f"built-in {op}")


DOT_HELPERS = '''
@numba.njit(cache=True)
def _npl_dot11(a, b):
    total = a[0] * b[0] * 0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total

@numba.njit(cache=True)
def _npl_dot21(a, b):
    out = np.zeros(a.shape[0], np.result_type(a.dtype, b.dtype))
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            out[i] += a[i, k] * b[k]
    return out

@numba.njit(cache=True)
def _npl_dot12(a, b):
    out = np.zeros(b.shape[1], np.result_type(a.dtype, b.dtype))
    for k in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[j] += a[k] * b[k, j]
    return out

@numba.njit(cache=True)
def _npl_dot22(a, b):
    out = np.zeros((a.shape[0], b.shape[1]), np.result_type(a.dtype, b.dtype))
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            aik = a[i, k]
            for j in range(b.shape[1]):
                out[i, j] += aik * b[k, j]
    return out
'''


def module_source(module: ir.Module, functions: list[ir.Function], *, parallel: set[str],
                  boundscheck: bool) -> str:
    """Source of a Python module defining every function in `functions` as
    a Numba-compiled function with an explicit signature."""
    lowerer = KernelLowerer(module)
    functions = callees_first(module, functions)
    parts = ["import math", "import numpy as np", "import numba",
             "from numba.types import int64, float64, boolean, none, Tuple", DOT_HELPERS]
    for fn in functions:
        tree = lowerer.function(fn)
        flags = f"cache=True, boundscheck={boundscheck}, parallel={fn.name in parallel}, error_model='python'"
        parts.append(f"@numba.njit({signature(fn)!r}, {flags})\n{ast.unparse(ast.fix_missing_locations(tree))}\n")
    return "\n\n".join(parts)


def callees_first(module: ir.Module, functions: list[ir.Function]) -> list[ir.Function]:
    """`functions` ordered so that each comes after the functions it calls
    (explicit signatures compile at definition time)."""
    by_name = {f.name: f for f in functions}
    done: dict[str, ir.Function] = {}

    def visit(f: ir.Function, stack: tuple = ()) -> None:
        if f.name in done or f.name in stack:
            return
        for c in sorted(callees(module, f)):
            if c in by_name:
                visit(by_name[c], stack + (f.name,))
        done[f.name] = f
    for f in functions:
        visit(f)
    return list(done.values())


def callees(module: ir.Module, fn: ir.Function) -> set[str]:
    """IR names of the functions `fn` calls (directly)."""
    found: set[str] = set()

    def visit(node):
        if isinstance(node, ir.Call):
            found.add(node.func)
        if isinstance(node, (list, tuple)):
            for x in node:
                visit(x)
        elif hasattr(node, "__dataclass_fields__"):
            for f in node.__dataclass_fields__:
                if f not in ("type", "span"):
                    visit(getattr(node, f))
    visit(fn.body)
    return found


def has_prange(fn: ir.Function) -> bool:
    def visit(stmts) -> bool:
        for s in stmts:
            if isinstance(s, ir.ForRange) and s.parallel:
                return True
            for attr_name in ("body", "orelse"):
                if visit(getattr(s, attr_name, []) or []):
                    return True
        return False
    return visit(fn.body)

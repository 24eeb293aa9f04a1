"""Lowering of NPL primitives (ir.Prim) to Numba-compilable Python `ast`:
the arithmetic, array access and index checks, conversions, math
functions and array built-ins of a kernel. A mixin of
runtime/numba_codegen.py's FunctionLowerer (which supplies `expr`, `rt`,
`site`, `temp` and the function being lowered); the checks call
runtime/numba_rt.py helpers so that compiled code fails where the
interpreter fails (see runtime/numba_codegen.py)."""
from __future__ import annotations

import ast
from typing import Optional

from npl.compiler import ir
from npl.lang.types import BOOL, FLOAT, INT, ArrayT, TupleT

from .kernel_analysis import Facts, assigned, is_const, is_var, same_expr, simple_array, walk
from .numba_ast import DOMAIN_GUARDS, NP_DTYPE, NotLowerable, attr, call, const, name, py_local


# The one-argument math built-ins, all lowered by PrimLowering.math1.
ONE_ARG_MATH = frozenset({"sqrt", "exp", "log2", "log10", "sin", "cos", "tan", "asin", "acos",
                          "atan"})


class PrimLowering:
    """`p_OP(e)` lowers `ir.Prim` nodes of op OP, `math1` those of the
    ONE_ARG_MATH ops (dispatched by FunctionLowerer.x_Prim)."""

    def arith(self, e: ir.Prim, op: type, checked_helper: str) -> ast.expr:
        a, b = e.args
        x, y = self.expr(a), self.expr(b)
        arrays = [isinstance(t.type, ArrayT) for t in (a, b)]
        if all(arrays):
            site = self.site("broadcast", e)
            return self.rt("ew_" + e.op, x, y, site=site)
        if self.checked and e.type == INT:
            return call(attr("rt", checked_helper), x, y, self.site("int_overflow", e))
        return ast.BinOp(x, op(), y)

    def p_add(self, e):
        return self.arith(e, ast.Add, "add_c")

    def p_sub(self, e):
        return self.arith(e, ast.Sub, "sub_c")

    def p_mul(self, e):
        return self.arith(e, ast.Mult, "mul_c")

    def p_truediv(self, e):
        a, b = e.args
        x, y = self.expr(a), self.expr(b)
        if isinstance(a.type, ArrayT) and isinstance(b.type, ArrayT):
            return self.rt("ew_truediv", x, y, site=self.site("broadcast", e))
        if isinstance(a.type, ArrayT) or isinstance(b.type, ArrayT):
            return ast.BinOp(x, ast.Div(), y)
        return ast.BinOp(x, ast.Div(), self.divisor(b, y, e))

    def divisor(self, b: ir.Expr, y: ast.expr, e) -> ast.expr:
        """y, checked to be nonzero unless it is a nonzero constant."""
        if isinstance(b, ir.Const) and not isinstance(b.value, bool) and b.value != 0:
            return y
        return self.rt("nz", y, site=self.site("zero_division", e))

    def p_floordiv(self, e):
        a, b = e.args
        if isinstance(e.type, ArrayT):
            raise NotLowerable("array //")
        x, y = self.expr(a), self.expr(b)
        if e.type != INT:
            return ast.BinOp(x, ast.FloorDiv(), self.divisor(b, y, e))
        if isinstance(b, ir.Const) and type(b.value) is int and b.value not in (0, -1):
            return ast.BinOp(x, ast.FloorDiv(), y)
        if self.checked:
            return call(attr("rt", "ifloordiv_c"), x, y, self.site("int_overflow", e))
        return self.rt("ifloordiv", x, y, site=self.site("zero_division", e))

    def p_mod(self, e):
        a, b = e.args
        if isinstance(e.type, ArrayT):
            raise NotLowerable("array %")
        x, y = self.expr(a), self.expr(b)
        return ast.BinOp(x, ast.Mod(), self.divisor(b, y, e))

    def p_pow(self, e):
        a, b = e.args
        if isinstance(e.type, ArrayT) or len(e.args) != 2:
            raise NotLowerable("array **")
        x, y = self.expr(a), self.expr(b)
        if e.type == INT:
            if self.checked:
                return call(attr("rt", "ipow_c"), x, y, self.site("int_pow", e))
            return self.rt("ipow", x, y, site=self.site("int_pow", e))
        return self.rt("fpow", x, y, site=self.site("float_pow", e))

    def p_neg(self, e):
        x = self.expr(e.args[0])
        if self.checked and e.type == INT:
            return call(attr("rt", "neg_c"), x, self.site("int_overflow", e))
        return ast.UnaryOp(ast.USub(), x)

    def p_pos(self, e):
        return self.expr(e.args[0])

    def p_not(self, e):
        return ast.UnaryOp(ast.Not(), self.expr(e.args[0]))

    def p_bitand(self, e):
        return ast.BinOp(self.expr(e.args[0]), ast.BitAnd(), self.expr(e.args[1]))

    def p_bitor(self, e):
        return ast.BinOp(self.expr(e.args[0]), ast.BitOr(), self.expr(e.args[1]))

    def p_bitxor(self, e):
        return ast.BinOp(self.expr(e.args[0]), ast.BitXor(), self.expr(e.args[1]))

    def p_truthy(self, e):
        a = e.args[0]
        if a.type == BOOL:
            return self.expr(a)
        if a.type in (INT, FLOAT):
            return ast.Compare(self.expr(a), [ast.NotEq()], [const(0)])
        raise NotLowerable(f"truth value of {a.type}")

    def p_int_to_float(self, e):
        return call(name("float"), self.expr(e.args[0]))

    # -------------------------------------------------------- indexing
    def p_getitem(self, e):
        obj, *indices = e.args
        t = obj.type
        if isinstance(t, TupleT):
            x, i = self.expr(obj), indices[0]
            if isinstance(i, ir.Const) or (isinstance(i, ir.Prim) and i.op == "neg"
                                           and isinstance(i.args[0], ir.Const)):
                return ast.Subscript(x, self.expr(i), ast.Load())
            return self.rt("tget", x, self.expr(i), site=self.site("index", e, ("tuple",)))
        if not isinstance(t, ArrayT):
            raise NotLowerable(f"indexing {t}")
        if len(indices) > t.rank or t.rank > 3:
            raise NotLowerable("arrays of rank above 3")
        whole = len(indices) == t.rank
        if simple_array(obj) or not self.gen.options.boundscheck:
            return self.subscript(obj, indices, ("get" if whole else "row", t.rank), e)
        x = self.expr(obj)
        idx = [self.expr(i) for i in indices]
        if whole:
            return self.rt(f"get{t.rank}", x, *idx, site=self.site("index", e, ("get", t.rank)))
        return self.row_helper(x, idx, t, e)

    def subscript(self, obj: ir.Expr, indices, detail: tuple, node, ctx=None) -> ast.expr:
        """obj[indices] with each index checked unless proven in range:
        `a[rt.ix(i, a.shape[0], site)]`. `obj` is evaluated again for each
        checked index's length, so it must be `simple_array`."""
        x = self.expr(obj)
        out = []
        site = None
        for axis, i in enumerate(indices):
            ix = self.expr(i)
            if not self.gen.options.boundscheck:
                pass
            elif self.proven(i, obj, axis) or (
                    isinstance(obj, ir.Local) and (obj.name, axis, index_key(i)) in self.trusted):
                if not isinstance(i, ir.Const):         # in range, so >= 0: spare Numba's wraparound
                    ix = call(attr("rt", "nn"), ix)
            else:
                if site is None:
                    site = self.site("index", node, detail)
                dim = ast.Subscript(ast.Attribute(self.expr(obj), "shape", ast.Load()), const(axis),
                                    ast.Load())
                at = ast.BinOp(site, ast.Add(), const(axis)) if axis else site
                if self.err is not None:
                    ix = call(attr("rt", "ix_e"), ix, dim, at, name(self.err))
                else:
                    ix = call(attr("rt", "ix"), ix, dim, at)
            out.append(ix)
        index = out[0] if len(out) == 1 else ast.Tuple(out, ast.Load())
        return ast.Subscript(x, index, ctx or ast.Load())

    def row_helper(self, x: ast.expr, idx: list[ast.expr], t: ArrayT, node) -> ast.expr:
        """a[i] (or a[i, j]) of a higher-rank array `a` that is not simple: a view."""
        site = self.site("index", node, ("row", t.rank))
        if len(idx) == 1:
            return self.rt("row", x, idx[0], site=site)
        return self.rt("row2", x, idx[0], idx[1], site=site)

    def invariant_checks(self, loop: ir.ForRange) -> set[tuple[str, int, str]]:
        """(array, axis, index key) of the index checks of an innermost loop
        that one test before it can make for every iteration: indices the
        loop does not change (a local, or an int constant: `index_key`) of
        arrays it does not change, and the loop's own variable when its
        range has a positive constant step and bounds `range_bound` can
        repeat. Empty unless that covers every index check in the loop:
        versioning compiles the loop twice, which pays when the unchecked
        copy is free of index checks (and LLVM can vectorize it)."""
        if not self.gen.options.boundscheck:
            return set()
        nodes = list(walk(loop.body))
        if any(isinstance(n, (ir.ForRange, ir.While, ir.ForEach)) for n in nodes):
            return set()
        changed = assigned(loop.body) | {loop.var}
        ranged = (isinstance(loop.step, ir.Const) and type(loop.step.value) is int
                  and loop.step.value > 0 and loop.var not in assigned(loop.body)
                  and range_bound(loop.start) is not None and range_bound(loop.stop) is not None)
        found: set[tuple[str, int, str]] = set()
        for n in nodes:
            if isinstance(n, ir.Prim) and n.op == "getitem":
                obj, idx = n.args[0], n.args[1:]
            elif isinstance(n, ir.SetItem):
                obj, idx = n.obj, n.indices
            else:
                continue
            if not isinstance(obj.type, ArrayT):
                continue
            if not isinstance(obj, ir.Local) or obj.name in changed:
                return set()
            for axis, i in enumerate(idx):
                if self.proven(i, obj, axis):
                    continue
                key = index_key(i)
                if key is None or (key in changed and not (key == loop.var and ranged)):
                    return set()
                found.add((obj.name, axis, key))
        return found

    # -------------------------------------------------------- range facts
    def proven(self, index: ir.Expr, array: ir.Expr, axis: int) -> bool:
        """`index` is certainly in [0, array.shape[axis]): it is the variable
        of an enclosing `for v in range(lo, hi)` (positive constant step, v
        not assigned in the body) with lo >= 0 and hi that axis's length
        (len(a), a.shape[k], a local set once from those, or the size `a`
        was allocated with), `a` a local that is never reassigned."""
        if not isinstance(index, ir.Local) or not isinstance(array, ir.Local):
            return False
        if array.name not in self.facts().single:
            return False
        loop = self.loops.get(index.name)
        if loop is None:
            return False
        lo, hi = loop
        return self.nonneg(lo) and self.is_dim(hi, array.name, axis)

    def nonneg(self, e: ir.Expr) -> bool:
        if isinstance(e, ir.Const):
            return type(e.value) is int and e.value >= 0
        if isinstance(e, ir.Local):
            if e.name in self.loops:
                return self.nonneg(self.loops[e.name][0])
            return e.name in self.facts().dims
        if isinstance(e, ir.Prim) and e.op == "add":
            return all(self.nonneg(a) for a in e.args)
        if isinstance(e, ir.Prim) and e.op == "len":
            return True
        return False

    def is_dim(self, hi: ir.Expr, array: str, axis: int) -> bool:
        facts = self.facts()
        if isinstance(hi, ir.Local) and facts.dims.get(hi.name) == (array, axis):
            return True
        if isinstance(hi, ir.Prim) and hi.op == "len" and axis == 0 and is_var(hi.args[0], array):
            return True
        if isinstance(hi, ir.Prim) and hi.op == "getitem" and isinstance(hi.args[0], ir.Prim) \
                and hi.args[0].op == "array.shape" and is_var(hi.args[0].args[0], array) \
                and is_const(hi.args[1], axis):
            return True
        dims = facts.alloc.get(array)
        return dims is not None and axis < len(dims) and same_expr(dims[axis], hi) \
            and all(n.name in facts.single for n in walk(hi) if isinstance(n, ir.Local))

    def facts(self) -> "Facts":
        if self._facts is None:
            self._facts = Facts.of(self.fn)
        return self._facts

    def p_slice(self, e):
        obj = e.args[0]
        if not isinstance(obj.type, ArrayT):
            raise NotLowerable(f"slicing {obj.type}")
        parts = [None if isinstance(a, ir.Const) and a.value is None else self.expr(a) for a in e.args[1:]]
        if parts[2] is not None and not (isinstance(e.args[3], ir.Const) and e.args[3].value != 0):
            parts[2] = self.rt("rstep", parts[2], site=self.site("slice_step", e))
        return ast.Subscript(self.expr(obj), ast.Slice(*parts), ast.Load())

    def p_array_shape(self, e):
        return ast.Attribute(self.expr(e.args[0]), "shape", ast.Load())

    # -------------------------------------------------------- built-ins
    def p_len(self, e):
        return call(name("len"), self.expr(e.args[0]))

    def p_abs(self, e):
        a = e.args[0]
        x = self.expr(a)
        if isinstance(a.type, ArrayT):
            return call(attr("np", "abs"), x)
        if self.checked and a.type == INT:
            return call(attr("rt", "abs_c"), x, self.site("int_overflow", e))
        return call(name("abs"), x)

    def reduce(self, e, helper: str) -> ast.expr:
        if len(e.args) == 1 and isinstance(e.args[0].type, ArrayT):
            return self.rt("a" + helper, self.expr(e.args[0]), site=self.site("empty_reduce", e, (helper,)))
        if e.kwargs or len(e.args) < 2 or any(a.type not in (INT, FLOAT, BOOL) for a in e.args):
            raise NotLowerable(f"{helper}() of these arguments")
        return call(name(helper), *[self.convert(a, e.type) for a in e.args])

    def p_min(self, e):
        return self.reduce(e, "min")

    def p_max(self, e):
        return self.reduce(e, "max")

    def p_sum(self, e):
        a = e.args[0]
        if not isinstance(a.type, ArrayT):
            raise NotLowerable("sum() of a non-array")
        if len(e.args) == 1:
            return call(attr("np", "sum"), self.expr(a))
        if a.type.rank != 1:
            raise NotLowerable("sum(array, start) of a 2-D array")
        return call(attr("rt", "sum_start"), self.expr(a), self.convert(e.args[1], e.type))

    def p_int(self, e):
        a = e.args[0]
        if a.type == INT:
            return self.expr(a)
        if a.type == BOOL:
            return call(name("int"), self.expr(a))
        if a.type == FLOAT:
            return self.rt("f2i", self.expr(a), site=self.site("to_int", e))
        raise NotLowerable(f"int() of {a.type}")

    def p_float(self, e):
        a = e.args[0]
        if a.type not in (INT, FLOAT, BOOL):
            raise NotLowerable(f"float() of {a.type}")
        return call(name("float"), self.expr(a))

    def p_bool(self, e):
        a = e.args[0]
        if a.type == BOOL:
            return self.expr(a)
        if a.type in (INT, FLOAT):
            return ast.Compare(self.expr(a), [ast.NotEq()], [const(0)])
        raise NotLowerable(f"bool() of {a.type}")

    def p_round(self, e):
        a = e.args[0]
        x = self.expr(a)
        if len(e.args) == 1:
            if a.type == INT:
                return x
            return self.rt("round0", x, site=self.site("to_int", e))
        n = self.expr(e.args[1])
        if a.type == INT:
            return self.rt("iroundn", x, n, site=self.site("int_round", e))
        return call(attr("rt", "roundn"), x, n)

    def math1(self, e, fname: str) -> ast.expr:
        """math.NAME(x) of one argument (ONE_ARG_MATH), NumPy's for an array,
        with the guard of NAME's domain (or range, for exp)."""
        a = e.args[0]
        x = self.expr(a)
        if isinstance(a.type, ArrayT):
            np_name = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}.get(fname, fname)
            return call(attr("np", np_name), x)
        if fname == "exp":
            return self.rt("exp", x, site=self.site("math_range", e))
        guard = DOMAIN_GUARDS.get(fname)
        if guard is not None:
            x = self.rt(guard, x, site=self.site("math_domain", e))
        return call(attr("math", fname), x)

    def p_log(self, e):
        if isinstance(e.args[0].type, ArrayT):
            if len(e.args) == 2:
                raise NotLowerable("log(array, base)")
            return call(attr("np", "log"), self.expr(e.args[0]))
        if len(e.args) == 2:
            return self.rt("logb", self.expr(e.args[0]), self.expr(e.args[1]),
                           site=self.site("log_base", e))
        return self.math1(e, "log")

    def p_atan2(self, e):
        return call(attr("math", "atan2"), *[self.convert(a, FLOAT) for a in e.args])

    def p_floor(self, e):
        return self.rt("floor", self.convert(e.args[0], FLOAT), site=self.site("to_int", e))

    def p_ceil(self, e):
        return self.rt("ceil", self.convert(e.args[0], FLOAT), site=self.site("to_int", e))

    def p_isnan(self, e):
        return call(attr("math", "isnan"), self.convert(e.args[0], FLOAT))

    def p_isinf(self, e):
        return call(attr("math", "isinf"), self.convert(e.args[0], FLOAT))

    # -------------------------------------------------------- arrays
    def shape(self, e: ir.Expr, node) -> ast.expr:
        site = self.site("negative_dim", node)
        if e.type == INT:
            return self.rt("dim", self.expr(e), site=site)
        if isinstance(e, ir.TupleLit):
            return ast.Tuple([self.rt("dim", self.expr(x), site=site) for x in e.elts], ast.Load())
        if isinstance(e, ir.Prim) and e.op == "array.shape":
            return self.expr(e)
        if isinstance(e.type, TupleT) and len(e.type.elems) in (2, 3):
            return self.rt(f"dims{len(e.type.elems)}", self.expr(e), site=site)
        raise NotLowerable(f"shape {e.type}")

    def alloc(self, e: ir.Prim, how: str) -> ast.expr:
        dtype = attr("np", NP_DTYPE[e.type.elem])
        shape = self.shape(e.args[0], e)
        if how == "full":
            return call(attr("np", "full"), shape, self.convert(e.args[1], e.type.elem), dtype)
        return call(attr("np", how), shape, dtype)

    def p_zeros(self, e):
        return self.alloc(e, "zeros")

    def p_ones(self, e):
        return self.alloc(e, "ones")

    def p_empty(self, e):
        return self.alloc(e, "zeros")          # the interpreter's empty() is zero-filled

    def p_full(self, e):
        return self.alloc(e, "full")

    def p_arange(self, e):
        elem = e.type.elem
        args = [self.convert(a, elem) for a in e.args]
        if len(args) < 3:
            return call(attr("np", "arange"), *args)
        return self.rt("arange", *args, site=self.site("zero_division", e))

    def p_copy(self, e):
        return call(ast.Attribute(self.expr(e.args[0]), "copy", ast.Load()))

    def p_dot(self, e):
        a, b = e.args
        if not (isinstance(a.type, ArrayT) and isinstance(b.type, ArrayT)):
            raise NotLowerable("dot of non-arrays")
        elem = e.type.elem if isinstance(e.type, ArrayT) else e.type
        dtype = attr("np", NP_DTYPE.get(elem, "float64"))
        helper = f"dot{a.type.rank}{b.type.rank}"
        return self.rt(helper, self.expr(a), self.expr(b), dtype, site=self.site("dot", e))


def index_key(index: ir.Expr) -> Optional[str]:
    """How loop versioning names an index: a local's name, a non-negative
    int constant's digits (no name starts with a digit), else None."""
    if isinstance(index, ir.Local):
        return index.name
    if isinstance(index, ir.Const) and type(index.value) is int and index.value >= 0:
        return str(index.value)
    return None


def range_bound(e: ir.Expr) -> Optional[ast.expr]:
    """`e` (a range bound) as an expression that may be evaluated again
    before the loop: int constants, locals, len() of a local and sums and
    differences of those; None for anything else. Evaluated without
    overflow checks: a bound that wraps only makes the test fail, and the
    checked loop runs."""
    if isinstance(e, ir.Const) and type(e.value) is int:
        return const(e.value)
    if isinstance(e, ir.Local):
        return name(py_local(e.name))
    if isinstance(e, ir.Prim) and e.op == "len" and isinstance(e.args[0], ir.Local):
        return call(name("len"), name(py_local(e.args[0].name)))
    if isinstance(e, ir.Prim) and e.op in ("add", "sub") and len(e.args) == 2:
        left, right = range_bound(e.args[0]), range_bound(e.args[1])
        if left is None or right is None:
            return None
        return ast.BinOp(left, ast.Add() if e.op == "add" else ast.Sub(), right)
    return None

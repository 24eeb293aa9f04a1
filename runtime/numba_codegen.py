"""IR functions in, the Python source of a Numba module out.

This module lowers statements, expressions and whole modules; the
primitives (arithmetic, array access, math, array built-ins) are lowered in
runtime/numba_prims.py, the analyses it relies on (call graph, array
writes, parallel-loop safety, array lengths) are runtime/kernel_analysis.py,
and runtime/numba_ast.py holds the `ast` building blocks.

Kernel-eligible IR functions (lang/kernels.py) use only int, float, bool,
arrays and tuples of those, so they lower to the subset of Python that
Numba's nopython mode compiles. The source is built as a Python `ast` and
unparsed (no string templating of user text; kernels hold no strings), then
runtime/jit.py writes it into the JIT cache and imports it, and Numba's own
on-disk cache keys on that file.

Types. Every function gets an explicit Numba signature from its NPL types
(int -> int64, float -> float64, bool -> boolean, array[T, N] -> a
C-contiguous T[:, ::1], tuples -> Tuple), so the machine code is exactly as
typed as the NPL source; an int used where a float is expected is converted
(`float(...)`), as a typed back end must (compiler/ir.py).

Semantics. The interpreter (runtime/codegen.py) is the reference; where
Numba's meaning differs, the source calls a helper of runtime/numba_rt.py:

  * array indexing, `//`, `%`, `/`, `**`, the math functions, int(),
    round(), floor(), ceil(), min()/max() of arrays, dot(), allocation
    sizes, range steps and asserts are checked, so that a kernel fails
    where the interpreter fails (index out of range, division by zero, math
    domain error, ...) with the same message; each check carries a *site*
    number that runtime/jit.py maps back to the NPL function and line
    (`Site`), so the error shows an NPL trace;
  * `INT64_MIN // -1` wraps, as int64 arithmetic does (Numba gives 0);
  * round(x, n) is Python's exactly rounded one (Numba's is not);
  * `empty()` is zero-filled as in the interpreter, unless the next
    statement is a loop that writes every element first (then np.empty);
  * unmarked functions compiled because they are hot keep Python's
    arbitrary-precision int: their int arithmetic is overflow-checked and an
    overflow makes runtime/jit.py re-run the call in the interpreter
    ("checked" mode; @kernel functions use int64, which wraps: docs/reference.md §2).

Parallel loops. Numba silently drops an exception raised inside the body of
a `prange` loop, so the body is lowered in *flagging* mode: checks record
the first failure in a small `err` array and the function raises after the
loop. Kernels called from such a body are compiled a second time into the
same module as flagging copies (`k_f__e(..., err)`), which are serial.
A `prange` loop runs in parallel only when that cannot change its result
(`parallel_safe`): outer variables it assigns are `+`/`-`/`*` reductions,
arrays it writes are indexed by the loop variable in their first dimension
and read only there, and kernels it calls write only such rows. Otherwise it
is an ordinary loop: `prange` allows parallel execution, it does not require
it (docs/reference.md §4).

Index checks. `a[i]` becomes `a[rt.ix(i, a.shape[0], site)]` (an LLVM
intrinsic: wrap a negative index, compare, branch to a cold block that
raises), except where the index cannot be out of range: the variable of an
enclosing `for i in range(lo, n)` with lo >= 0 and n the array's length
(len(a), a.shape[k], a local set once from those, or the size `a` was
allocated with; `Facts`). An innermost loop is versioned when all its
other index checks can be made once before it: indices it does not change
(a local or a constant), and its own variable when the range's bounds are
simple (`for j in range(i + 1, n)`: 0 <= i + 1 and n <= the length). If
they pass, a copy of the loop without index checks runs (which LLVM can
vectorize), else the checked one, which fails where the interpreter
would. (A loop left with some checks is not versioned: two copies double
its compile time for little gain.) An index known to be in range is
passed on as unsigned (`rt.nn`), which spares Numba's own wraparound of
negative indices. NPL_JIT_BOUNDSCHECK=0 drops the index checks.

Recursion. Functions in a recursive cycle carry a depth count; past
numba_rt.RECURSION_LIMIT they fail with the interpreter's stack overflow
error instead of overflowing the native stack.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from npl.compiler import ir
from npl.lang.types import BOOL, FLOAT, INT, NONE, ArrayT, TupleT, Type

from .jitcache import SITE_BASE, py_function_name
from .kernel_analysis import (Facts, assigned, empty_fully_written, parallel_safe,
                              simple_array, walk)
from .numba_ast import (CMP, ERR_TYPE, NB_SCALAR, NotLowerable, attr, call, const,
                        literal, name, py_local, zero_of)
from .numba_prims import ONE_ARG_MATH, PrimLowering, range_bound

# Bumped whenever the meaning of generated code changes (part of the cache key).
CODEGEN_VERSION = "4"


@dataclass(frozen=True)
class Site:
    """What a check in generated code stands for. `kind` is one of KINDS in
    runtime/jit.py; `function` the IR name of the function it is in."""
    kind: str
    function: str
    line: int
    detail: tuple = ()


# ------------------------------------------------------------------ names and types

def numba_type(t: Type, ret: bool = False) -> str:
    """Numba type expression (text, over the `numba.types` names) for `t`."""
    if t in NB_SCALAR:
        return NB_SCALAR[t]
    if isinstance(t, ArrayT):
        dims = [":"] * (t.rank - 1) + ["::1"]
        return f"{NB_SCALAR[t.elem]}[{', '.join(dims)}]"
    if isinstance(t, TupleT):
        if not t.elems:
            raise NotLowerable("the empty tuple")
        return "Tuple((" + ", ".join(numba_type(e) for e in t.elems) + ",))"
    if t == NONE and ret:
        return "none"
    raise NotLowerable(f"type {t}")


def signature(fn: ir.Function, extra: Iterable[str] = ()) -> str:
    params = [numba_type(p.type) for p in fn.params] + list(extra)
    return f"{numba_type(fn.ret, ret=True)}({', '.join(params)})"


# ------------------------------------------------------------------ lowering

def _no_consts(name: str) -> object:
    raise KeyError(name)


@dataclass
class Options:
    boundscheck: bool = True
    consts: Callable[[str], object] = _no_consts      # a module constant's value (KeyError: unknown)


class FunctionLowerer(PrimLowering):
    """Lowers one function in one variant. `err` is the name of the failure
    record when lowering in flagging mode (None: raising mode)."""

    def __init__(self, gen: "ModuleBuilder", fn: ir.Function, *, flagging: bool, depth: bool):
        self.gen = gen
        self.fn = fn
        self.flagging = flagging
        self.depth = depth
        self.err: Optional[str] = "_err" if flagging else None
        self.checked = not fn.kernel            # unmarked: arbitrary-precision int
        self.temps = 0
        self.in_parallel = False
        self.used_prange = False
        self.loops: dict[str, tuple[ir.Expr, ir.Expr]] = {}   # enclosing range loops: var -> (lo, hi)
        self.trusted: set[tuple[str, int, str]] = set()       # (array, axis, index) checked already
        self._facts: Optional[Facts] = None

    # -------------------------------------------------------- sites and helpers
    def site(self, kind: str, node, detail: tuple = ()) -> ast.expr:
        line = node.span.line if node is not None and node.span.line else self.fn.span.line
        return self.gen.site(Site(kind, self.fn.name, line, detail))

    def rt(self, helper: str, *args: ast.expr, site: Optional[ast.expr] = None,
           flaggable: bool = True) -> ast.expr:
        """Call numba_rt.<helper> (its flagging twin in flagging mode)."""
        args = list(args)
        if site is not None:
            args.append(site)
        if self.err is not None and flaggable:
            return call(attr("rt", helper + "_e"), *args, name(self.err))
        return call(attr("rt", helper), *args)

    def temp(self) -> str:
        self.temps += 1
        return f"t_{self.temps}"

    # -------------------------------------------------------- functions
    def function(self) -> list[ast.FunctionDef]:
        fn = self.fn
        if any(isinstance(s, ir.HoleBody) for s in fn.body):
            raise NotLowerable("unfilled hole")
        params = [py_local(p.name) for p in fn.params]
        extra = (["_err"] if self.flagging else []) + (["_depth"] if self.depth else [])
        body: list[ast.stmt] = []
        if self.depth:
            cycle = self.gen.cycles.get(fn.name, ())
            first = next((n for n in walk(fn.body) if isinstance(n, ir.Call) and n.func in cycle), None)
            ok = self.rt("depth", name("_depth"), site=self.site("recursion", first))
            body.append(ast.If(ast.UnaryOp(ast.Not(), ok), [self.ret_zero()], []))
        body += self.block(fn.body)
        if fn.ret == NONE or not body:
            body.append(ast.Return(None))
        variant = ("e" if self.flagging else "") + ("d" if self.depth else "")
        args = ast.arguments([], [ast.arg(p) for p in params + extra], None, [], [], None, [])
        return [ast.FunctionDef(py_function_name(fn.name, variant), args, body, [], None)]

    def ret_zero(self) -> ast.stmt:
        return ast.Return(zero_of(self.fn.ret) if self.fn.ret != NONE else None)

    # -------------------------------------------------------- statements
    def block(self, stmts: list[ir.Stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, s in enumerate(stmts):
            following = stmts[i + 1] if i + 1 < len(stmts) else None
            out.extend(self.stmt(s, following))
        return out

    def body(self, stmts: list[ir.Stmt]) -> list[ast.stmt]:
        return self.block(stmts) or [ast.Pass()]

    def stmt(self, s: ir.Stmt, following: Optional[ir.Stmt] = None) -> list[ast.stmt]:
        if isinstance(s, ir.Assign):
            want = self.fn.locals.get(s.name, s.value.type)
            if empty_fully_written(s, following):
                value = self.alloc(s.value, "empty")
            else:
                value = self.convert(s.value, want)
            return [ast.Assign([name(py_local(s.name), True)], value)]
        if isinstance(s, ir.Unpack):
            target = ast.Tuple([name(py_local(n), True) for n in s.names], ast.Store())
            return [ast.Assign([target], self.expr(s.value))]
        if isinstance(s, ir.SetItem):
            return self.set_item(s)
        if isinstance(s, ir.If):
            return [ast.If(self.expr(s.test), self.body(s.body), self.block(s.orelse))]
        if isinstance(s, ir.While):
            return [ast.While(self.expr(s.test), self.body(s.body), [])]
        if isinstance(s, ir.ForRange):
            return self.for_range(s)
        if isinstance(s, ir.ForEach):
            if not isinstance(s.iter.type, ArrayT) or s.unpack:
                raise NotLowerable("for over a non-array")
            target = name(py_local(s.targets[0]), True)
            return [ast.For(target, self.expr(s.iter), self.body(s.body), [])]
        if isinstance(s, ir.Break):
            return [ast.Break()]
        if isinstance(s, ir.Continue):
            return [ast.Continue()]
        if isinstance(s, ir.Return):
            if s.value is None:
                return [ast.Return(None)]
            return [ast.Return(self.convert(s.value, self.fn.ret))]
        if isinstance(s, ir.ExprStmt):
            return [ast.Expr(self.expr(s.value))]
        if isinstance(s, ir.Assert):
            return [self.assert_(s)]
        raise NotLowerable(type(s).__name__)

    def assert_(self, s: ir.Assert) -> ast.stmt:
        msg, payload = s.msg, const(0)
        kind = "none"
        if msg is not None:
            kind = {INT: "int", FLOAT: "float", BOOL: "bool"}.get(msg.type, "none")
            if kind == "float":
                payload = call(attr("rt", "f2bits"), self.expr(msg))
            elif kind in ("int", "bool"):
                payload = call(name("int"), self.expr(msg))
        site = self.site("assert", s, (kind,))
        fail = self.rt("fail", site, payload, const(0))
        return ast.If(ast.UnaryOp(ast.Not(), self.expr(s.test)), [ast.Expr(fail)], [])

    def set_item(self, s: ir.SetItem) -> list[ast.stmt]:
        obj_t = s.obj.type
        if not isinstance(obj_t, ArrayT):
            raise NotLowerable(f"item assignment on {obj_t}")
        if obj_t.rank > 3 or len(s.indices) > obj_t.rank:
            raise NotLowerable("arrays of rank above 3")
        pre: list[ast.stmt] = []
        value = self.convert(s.value, obj_t.elem if len(s.indices) == obj_t.rank else s.value.type)
        if not isinstance(s.value, (ir.Local, ir.Const)):
            t = self.temp()                      # Python evaluates the value first
            pre.append(ast.Assign([name(t, True)], value))
            value = name(t)
        whole = len(s.indices) == obj_t.rank
        if simple_array(s.obj) or not self.gen.options.boundscheck:
            if whole:
                target = self.subscript(s.obj, s.indices, ("set", obj_t.rank), s, ast.Store())
            else:
                row = self.subscript(s.obj, s.indices, ("row", obj_t.rank), s)
                target = ast.Subscript(row, ast.Slice(), ast.Store())
            return pre + [ast.Assign([target], value)]
        obj = self.expr(s.obj)
        idx = [self.expr(i) for i in s.indices]
        site = self.site("index", s, ("set", obj_t.rank))
        if whole:
            return pre + [ast.Expr(self.rt(f"set{obj_t.rank}", obj, *idx, value, site=site))]
        view = self.row_helper(obj, idx, obj_t, s)
        return pre + [ast.Assign([ast.Subscript(view, ast.Slice(), ast.Store())], value)]

    def in_range_test(self, loop: ir.ForRange, array: str, axis: int, index: str) -> ast.expr:
        """The test, made once before `loop`, that index `index`
        (numba_prims.index_key) is in [0, n) on `array`'s axis `axis` (of
        length n) in every iteration: 0 <= i < n for a local or a constant,
        and for the loop's own variable 0 <= start and stop <= n (step >
        0). A negative index, valid from the end, takes the checked loop."""
        dim = ast.Subscript(ast.Attribute(name(py_local(array)), "shape", ast.Load()),
                            const(axis), ast.Load())
        if index == loop.var:
            below = ast.Compare(range_bound(loop.stop), [ast.LtE()], [dim])
            if isinstance(loop.start, ir.Const) and loop.start.value >= 0:
                return below
            return ast.BoolOp(ast.And(), [
                ast.Compare(const(0), [ast.LtE()], [range_bound(loop.start)]), below])
        if index.isdigit():
            return ast.Compare(const(int(index)), [ast.Lt()], [dim])
        return ast.Compare(const(0), [ast.LtE(), ast.Lt()], [name(py_local(index)), dim])

    def for_range(self, s: ir.ForRange) -> list[ast.stmt]:
        start, stop = self.expr(s.start), self.expr(s.stop)
        if isinstance(s.step, ir.Const) and s.step.value != 0:
            step = self.expr(s.step)
        else:
            step = self.rt("rstep", self.expr(s.step), site=self.site("range_step", s))
        target = name(py_local(s.var), True)
        tracked = isinstance(s.step, ir.Const) and type(s.step.value) is int and s.step.value > 0 \
            and s.var not in assigned(s.body)
        saved_loop = self.loops.get(s.var)
        if tracked:
            self.loops[s.var] = (s.start, s.stop)
        else:
            self.loops.pop(s.var, None)
        try:
            return self._for_range(s, start, stop, step, target)
        finally:
            if saved_loop is None:
                self.loops.pop(s.var, None)
            else:
                self.loops[s.var] = saved_loop

    def _for_range(self, s: ir.ForRange, start, stop, step, target) -> list[ast.stmt]:
        parallel = (s.parallel and not self.flagging and not self.in_parallel
                    and self.gen.is_parallel(s, self.fn))
        if not parallel:
            if s.parallel:
                self.gen.serial_pranges += 1
            it = call(name("range"), start, stop, step)
            invariant = self.invariant_checks(s)
            if not invariant:
                return [ast.For(target, it, self.body(s.body), [])]
            # loop versioning: the index checks that do not change in the
            # loop are made once; if they pass, a copy without them runs
            # (and LLVM can vectorize it), else the checked loop reports
            # the failure where the interpreter would
            checked = ast.For(target, it, self.body(s.body), [])
            self.trusted |= invariant
            try:
                fast = ast.For(target, it, self.body(s.body), [])
            finally:
                self.trusted -= invariant
            tests = [self.in_range_test(s, array, axis, index) for array, axis, index in sorted(invariant)]
            cond = tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)
            return [ast.If(cond, [fast], [checked])]
        self.used_prange = True
        err = f"_err{self.gen.next_err()}"
        saved = self.err
        self.err, self.in_parallel = err, True
        try:
            body = self.body(s.body)
        finally:
            self.err, self.in_parallel = saved, False
        loop = ast.For(target, call(attr("numba", "prange"), start, stop), body, [])
        return [ast.Assign([name(err, True)], call(attr("rt", "new_err"))), loop,
                ast.Expr(call(attr("rt", "check_err"), name(err)))]

    # -------------------------------------------------------- expressions
    def convert(self, e: ir.Expr, want: Type) -> ast.expr:
        """`e` as a value of type `want` (int -> float where NPL widens)."""
        x = self.expr(e)
        if e.type == INT and want == FLOAT:
            return call(name("float"), x)
        return x

    def expr(self, e: ir.Expr) -> ast.expr:
        method = getattr(self, "x_" + type(e).__name__, None)
        if method is None:
            raise NotLowerable(type(e).__name__)
        return method(e)

    def x_Const(self, e: ir.Const) -> ast.expr:
        return literal(e.value)

    def x_Local(self, e: ir.Local) -> ast.expr:
        return name(py_local(e.name))

    def x_Global(self, e: ir.Global) -> ast.expr:
        try:
            value = self.gen.options.consts(e.name)
        except KeyError:
            raise NotLowerable(f"constant {e.name}") from None
        return literal(value)

    def x_Call(self, e: ir.Call) -> ast.expr:
        callee = self.gen.functions.get(e.func)
        if callee is None:
            raise NotLowerable(f"call of {e.func}")
        args = [self.convert(a, p.type) for a, p in zip(e.args, callee.params)]
        return self.gen.call_to(self, callee, args)

    def x_Compare(self, e: ir.Compare) -> ast.expr:
        if any(op not in CMP for op in e.ops):
            raise NotLowerable("comparison " + " ".join(e.ops))
        if any(isinstance(o.type, ArrayT) for o in e.operands):
            raise NotLowerable("array comparison")
        ops = [CMP[o]() for o in e.ops]
        return ast.Compare(self.expr(e.operands[0]), ops, [self.expr(x) for x in e.operands[1:]])

    def x_And(self, e: ir.And) -> ast.expr:
        return ast.BoolOp(ast.And(), [self.expr(v) for v in e.values])

    def x_Or(self, e: ir.Or) -> ast.expr:
        return ast.BoolOp(ast.Or(), [self.expr(v) for v in e.values])

    def x_IfExp(self, e: ir.IfExp) -> ast.expr:
        return ast.IfExp(self.expr(e.test), self.convert(e.body, e.type), self.convert(e.orelse, e.type))

    def x_TupleLit(self, e: ir.TupleLit) -> ast.expr:
        want = e.type.elems if isinstance(e.type, TupleT) else [x.type for x in e.elts]
        return ast.Tuple([self.convert(x, t) for x, t in zip(e.elts, want)], ast.Load())

    def x_Prim(self, e: ir.Prim) -> ast.expr:
        op = e.op
        if op in ONE_ARG_MATH:
            return self.math1(e, op)
        method = getattr(self, "p_" + op.replace(".", "_"), None)
        if method is None:
            raise NotLowerable(f"built-in {op}")
        return method(e)

    # -------------------------------------------------------- operators


# ------------------------------------------------------------------ modules

class ModuleBuilder:
    """The source of one generated module: the raising variants of the
    functions of one call-graph component (`own`), flagging copies of every
    function called from their parallel loops, and imports of the modules
    of the other functions they call (`imports`: IR name -> module name)."""

    def __init__(self, module: ir.Module, functions: dict[str, ir.Function], own: list[ir.Function],
                 imports: dict[str, str], options: Options, writes: dict[str, set[int]],
                 cycles: dict[str, frozenset]):
        self.module = module
        self.functions = functions
        self.own = own
        self.own_names = {f.name for f in own}
        self.imports = imports
        self.options = options
        self.writes = writes
        self.cycles = cycles                     # function on a call cycle -> its cycle
        self.sites: list[Site] = []
        self._site_index: dict[Site, int] = {}
        self.flag_needed: set[str] = set()
        self.serial_pranges = 0
        self._errs = 0
        self._parallel_cache: dict[int, bool] = {}

    def site(self, s: Site) -> ast.expr:
        index = self._site_index.get(s)
        if index is None:
            index = self._site_index[s] = len(self.sites)
            self.sites.append(s)
        return ast.BinOp(name(SITE_BASE), ast.Add(), const(index * 4))

    def next_err(self) -> int:
        self._errs += 1
        return self._errs

    def is_parallel(self, loop: ir.ForRange, fn: ir.Function) -> bool:
        key = id(loop)
        if key not in self._parallel_cache:
            self._parallel_cache[key] = parallel_safe(loop, fn, self.writes)
        return self._parallel_cache[key]

    def call_to(self, lowerer: FunctionLowerer, callee: ir.Function, args: list[ast.expr]) -> ast.expr:
        flag = lowerer.err is not None
        if flag:
            self.flag_needed.add(callee.name)
            args = args + [name(lowerer.err)]
        cycle = self.cycles.get(lowerer.fn.name, ())
        if lowerer.depth and callee.name in cycle:
            variant = ("e" if flag else "") + "d"
            args = args + [ast.BinOp(name("_depth"), ast.Add(), const(1))]
        else:
            variant = "e" if flag else ""
        return call(name(py_function_name(callee.name, variant)), *args)

    def build(self) -> str:
        parts = ["import math", "import numpy as np", "import numba",
                 "from numba.types import int64, float64, boolean, none, Tuple",
                 "from npl.runtime import numba_rt as rt", f"{SITE_BASE} = 0"]
        defs: list[tuple[str, str, set[str]]] = []
        for fn in self.own:
            defs.extend(self.define(fn, flagging=False))
        done: set[str] = set()                  # flagging copies, transitively
        while self.flag_needed - done:
            fname = sorted(self.flag_needed - done)[0]
            done.add(fname)
            defs.extend(self.define(self.functions[fname], flagging=True))
        by_module: dict[str, set[str]] = {}
        for fname, mod in self.imports.items():
            if fname not in self.own_names:
                by_module.setdefault(mod, set()).add(py_function_name(fname))
        for mod in sorted(by_module):
            parts.append(f"from {mod} import {', '.join(sorted(by_module[mod]))}")
        sites = tuple((x.kind, x.function, x.line, x.detail) for x in self.sites)
        tail = f"# what each check stands for (runtime/jit.py SITES)\n_NPL_SITES = {sites!r}\n" \
            f"_NPL_SERIAL_PRANGES = {self.serial_pranges}\n"
        return "\n".join(parts) + "\n\n\n" + "\n\n".join(self.order(defs)) + "\n\n" + tail

    def define(self, fn: ir.Function, flagging: bool) -> list[tuple[str, str, set[str]]]:
        """[(python name, source, k_ names it calls)] for one variant of
        `fn`: the function itself, or for a function on a call cycle an inner
        function with a depth count and a wrapper that starts the count.
        A self-recursive inner function has an explicit signature; mutually
        recursive ones cannot (Numba compiles an explicit signature at once,
        before the other function exists), so they are typed from their
        callers, and are not cached: Numba 0.68 crashes loading a cached
        type-inferred recursive function."""
        extra_sig = [ERR_TYPE] if flagging else []
        base = "e" if flagging else ""
        lowerer = FunctionLowerer(self, fn, flagging=flagging, depth=fn.name in self.cycles)
        tree = lowerer.function()
        if fn.name not in self.cycles:
            return [self.render(fn, tree[0], signature(fn, extra_sig), lowerer.used_prange)]
        mutual = len(self.cycles[fn.name]) > 1
        params = [py_local(p.name) for p in fn.params] + (["_err"] if flagging else [])
        inner_call = call(name(py_function_name(fn.name, base + "d")), *[name(p) for p in params], const(0))
        args = ast.arguments([], [ast.arg(p) for p in params], None, [], [], None, [])
        wrapper = ast.FunctionDef(py_function_name(fn.name, base), args, [ast.Return(inner_call)], [], None)
        inner_sig = None if mutual else signature(fn, extra_sig + ["int64"])
        return [self.render(fn, tree[0], inner_sig, lowerer.used_prange, cache=not mutual),
                self.render(fn, wrapper, signature(fn, extra_sig), False, cache=not mutual)]

    def render(self, fn: ir.Function, node: ast.FunctionDef, sig: Optional[str],
               parallel: bool, cache: bool = True) -> tuple[str, str, set[str]]:
        flags = f"cache={cache}, boundscheck=False, parallel={parallel}, error_model='python'"
        head = f"@numba.njit({sig!r}, {flags})" if sig else f"@numba.njit({flags})"
        source = f"{head}\n{ast.unparse(ast.fix_missing_locations(node))}\n"
        called = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call)
                  and isinstance(n.func, ast.Name) and n.func.id.startswith("k_")}
        return node.name, source, called

    @staticmethod
    def order(defs: list[tuple[str, str, set[str]]]) -> list[str]:
        """Definitions with each after the ones it calls (explicit signatures
        compile at definition time); cycles are broken by the depth
        wrappers, which are defined after their inner function."""
        by_name = {d[0]: d for d in defs}
        done: dict[str, str] = {}

        def visit(n: str, stack: tuple) -> None:
            if n in done or n in stack or n not in by_name:
                return
            for c in sorted(by_name[n][2]):
                visit(c, stack + (n,))
            done[n] = by_name[n][1]
        for d in defs:
            visit(d[0], ())
        return list(done.values())

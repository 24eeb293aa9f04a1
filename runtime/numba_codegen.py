"""IR functions in, the Python source of a Numba module out.

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
    ("checked" mode; @kernel functions use int64, which wraps: SPEC 2).

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
it (SPEC 4).

Index checks. `a[i]` becomes `a[rt.ix(i, a.shape[0], site)]` (an LLVM
intrinsic: wrap a negative index, compare, branch to a cold block that
raises), except where the index cannot be out of range: the variable of an
enclosing `for i in range(lo, n)` with lo >= 0 and n the array's length
(len(a), a.shape[k], a local set once from those, or the size `a` was
allocated with; `Facts`). An innermost loop whose other checks do not
change from one iteration to the next is versioned: the checks are made
once before it, and if they pass an unchecked copy of the loop runs (which
LLVM can vectorize), else the checked one, which fails where the
interpreter would. NPL_JIT_BOUNDSCHECK=0 drops the index checks.

Recursion. Functions in a recursive cycle carry a depth count; past
numba_rt.RECURSION_LIMIT they fail with the interpreter's stack overflow
error instead of overflowing the native stack.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from npl.compiler import ir
from npl.lang.types import BOOL, FLOAT, INT, NONE, ArrayT, TupleT, Type

from .jitcache import encode_name as _encode, py_function_name

# Bumped whenever the meaning of generated code changes (part of the cache key).
CODEGEN_VERSION = "3"

CMP = {"eq": ast.Eq, "ne": ast.NotEq, "lt": ast.Lt, "le": ast.LtE, "gt": ast.Gt, "ge": ast.GtE}
NP_DTYPE = {FLOAT: "float64", INT: "int64", BOOL: "bool_"}
NB_SCALAR = {FLOAT: "float64", INT: "int64", BOOL: "boolean"}
# numba_rt guard checking the argument of each math function (Python raises
# "math domain error" where the guard fails; exp is checked on its result)
DOMAIN_GUARDS = {"sqrt": "ge0", "log": "gt0", "log2": "gt0", "log10": "gt0", "sin": "finite",
                 "cos": "finite", "tan": "finite", "asin": "unit", "acos": "unit"}
ERR_TYPE = "int64[::1]"
SITE_BASE = "_S"                    # module global: the module's site tag << 24


class NotLowerable(Exception):
    """The function uses something the Numba back end does not support."""


@dataclass(frozen=True)
class Site:
    """What a check in generated code stands for. `kind` is one of KINDS in
    runtime/jit.py; `function` the IR name of the function it is in."""
    kind: str
    function: str
    line: int
    detail: tuple = ()


# ------------------------------------------------------------------ names and types

def py_local(name: str) -> str:
    if name.isidentifier() and name.isascii():
        return "v_" + name
    return "w_" + _encode(name)


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


# ------------------------------------------------------------------ IR walking

def children(node) -> Iterable:
    if isinstance(node, (list, tuple)):
        yield from node
    elif hasattr(node, "__dataclass_fields__"):
        for f in node.__dataclass_fields__:
            if f not in ("type", "span"):
                yield getattr(node, f)


def walk(node) -> Iterable:
    """Every IR node (statements, expressions, generators) under `node`."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (list, tuple)):
            stack.extend(reversed(n))
            continue
        if hasattr(n, "__dataclass_fields__"):
            yield n
            stack.extend(reversed(list(children(n))))


def callees(module: ir.Module, fn: ir.Function) -> set[str]:
    """IR names of the functions `fn` calls (directly)."""
    return {n.func for n in walk(fn.body) if isinstance(n, ir.Call)}


def reads(node, var: str) -> bool:
    return any(isinstance(n, ir.Local) and n.name == var for n in walk(node))


def assigned(stmts) -> set[str]:
    out: set[str] = set()
    for n in walk(stmts):
        if isinstance(n, ir.Assign):
            out.add(n.name)
        elif isinstance(n, ir.Unpack):
            out.update(n.names)
        elif isinstance(n, ir.ForRange):
            out.add(n.var)
        elif isinstance(n, ir.ForEach):
            out.update(n.targets)
    return out


def has_prange(fn: ir.Function) -> bool:
    return any(isinstance(n, ir.ForRange) and n.parallel for n in walk(fn.body))


def is_const(e: ir.Expr, value) -> bool:
    return isinstance(e, ir.Const) and type(e.value) is type(value) and e.value == value


def same_expr(a: ir.Expr, b: ir.Expr) -> bool:
    """Structurally equal side-effect-free expressions (locals, constants,
    len, shape, tuple items, arithmetic)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, ir.Const):
        return type(a.value) is type(b.value) and a.value == b.value
    if isinstance(a, ir.Local):
        return a.name == b.name
    if isinstance(a, ir.Prim):
        if a.op != b.op or len(a.args) != len(b.args) or a.kwargs or b.kwargs:
            return False
        if a.op not in ("len", "array.shape", "getitem", "add", "sub", "mul"):
            return False
        return all(same_expr(x, y) for x, y in zip(a.args, b.args))
    return False


def root_local(e: ir.Expr) -> Optional[str]:
    """The local an lvalue/array expression is rooted at (`m` for m[i][j])."""
    while isinstance(e, ir.Prim) and e.op in ("getitem", "slice"):
        e = e.args[0]
    return e.name if isinstance(e, ir.Local) else None


FRESH_ARRAY_OPS = {"zeros", "ones", "empty", "full", "arange", "copy", "add", "sub", "mul",
                   "truediv", "neg", "abs", "sqrt", "dot"}


def fresh_array(e: ir.Expr) -> bool:
    """`e` makes a new array (no alias of any other)."""
    return isinstance(e, ir.Prim) and e.op in FRESH_ARRAY_OPS and isinstance(e.type, ArrayT)


# ------------------------------------------------------------------ whole-module analyses

def param_writes(module: ir.Module, functions: dict[str, ir.Function]) -> dict[str, set[int]]:
    """For each function, the indices of the array parameters whose elements
    it may write (itself or through the kernels it calls)."""
    result: dict[str, set[int]] = {f: set() for f in functions}
    aliases = {f: _param_aliases(fn) for f, fn in functions.items()}
    changed = True
    while changed:
        changed = False
        for fname, fn in functions.items():
            al = aliases[fname]
            found: set[int] = set()
            for n in walk(fn.body):
                if isinstance(n, ir.SetItem):
                    root = root_local(n.obj)
                    found |= al.get(root, set()) if root else set(range(len(fn.params)))
                elif isinstance(n, ir.Call) and n.func in result:
                    for k in result[n.func]:
                        if k < len(n.args):
                            arg = n.args[k]
                            root = root_local(arg)
                            found |= al.get(root, set()) if root else (
                                set() if fresh_array(arg) else set(range(len(fn.params))))
            if not found <= result[fname]:
                result[fname] |= found
                changed = True
    return result


def _param_aliases(fn: ir.Function) -> dict[str, set[int]]:
    """local -> the parameters (indices) whose array it may refer to."""
    everything = {i for i, p in enumerate(fn.params) if isinstance(p.type, ArrayT)}
    al: dict[str, set[int]] = {p.name: {i} for i, p in enumerate(fn.params)
                               if isinstance(p.type, ArrayT)}
    changed = True
    while changed:
        changed = False
        for n in walk(fn.body):
            targets: list[tuple[str, set[int]]] = []
            if isinstance(n, ir.Assign) and _holds_array(n.value.type):
                src = set() if fresh_array(n.value) else (
                    al.get(root_local(n.value), set()) if root_local(n.value) else everything)
                targets.append((n.name, src))
            elif isinstance(n, ir.Unpack):
                src = al.get(root_local(n.value), set()) if root_local(n.value) else everything
                targets.extend((t, src) for t in n.names)
            elif isinstance(n, ir.ForEach):
                src = al.get(root_local(n.iter), set()) if root_local(n.iter) else everything
                targets.extend((t, src) for t in n.targets)
            for t, src in targets:
                if not src <= al.get(t, set()):
                    al[t] = al.get(t, set()) | src
                    changed = True
    return al


def _holds_array(t: Type) -> bool:
    return isinstance(t, ArrayT) or (isinstance(t, TupleT) and any(_holds_array(e) for e in t.elems))


def call_cycles(functions: dict[str, ir.Function], module: ir.Module) -> dict[str, frozenset]:
    """Each function on a call cycle -> the functions of its cycle (its
    strongly connected component)."""
    graph = {f: sorted(callees(module, fn) & functions.keys()) for f, fn in functions.items()}
    reach: dict[str, set[str]] = {}
    for start in graph:
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            f = stack.pop()
            if f not in seen:
                seen.add(f)
                stack.extend(graph.get(f, ()))
        reach[start] = seen
    return {f: frozenset(g for g in graph if g in reach[f] and f in reach[g])
            for f in graph if f in reach[f]}


def components(functions: dict[str, ir.Function], module: ir.Module) -> list[list[str]]:
    """The call graph's strongly connected components, callees first."""
    cycles = call_cycles(functions, module)
    graph = {f: sorted(callees(module, fn) & functions.keys()) for f, fn in functions.items()}
    comp_of = {f: cycles.get(f, frozenset([f])) for f in graph}
    order: list[frozenset] = []
    done: set[frozenset] = set()

    def visit(c: frozenset, stack: tuple) -> None:
        if c in done or c in stack:
            return
        for f in sorted(c):
            for g in graph[f]:
                if comp_of[g] != c:
                    visit(comp_of[g], stack + (c,))
        done.add(c)
        order.append(c)
    for f in sorted(graph):
        visit(comp_of[f], ())
    return [sorted(c) for c in order]


def widening_sites(fn: ir.Function, functions: dict[str, ir.Function]) -> list[ir.Expr]:
    """Places where an int value lands in a float slot (an int-typed
    expression assigned to a float variable, returned as float, passed as a
    float argument, one branch of a float conditional, a mixed min/max).
    The interpreter keeps such a value an int (`x: float = 3` prints 3) and
    compiled code cannot, so runtime/jit.py does not tier functions that
    have any."""
    out: list[ir.Expr] = []

    def check(e: Optional[ir.Expr], want: Type) -> None:
        if e is not None and _widens(e.type, want):
            out.append(e)

    for n in walk(fn.body):
        if isinstance(n, ir.Assign):
            check(n.value, fn.locals.get(n.name, n.value.type))
        elif isinstance(n, ir.Unpack) and isinstance(n.value.type, TupleT):
            for nm, t in zip(n.names, n.value.type.elems):
                if _widens(t, fn.locals.get(nm, t)):
                    out.append(n.value)
        elif isinstance(n, ir.Return):
            check(n.value, fn.ret)
        elif isinstance(n, ir.Call) and n.func in functions:
            for a, p in zip(n.args, functions[n.func].params):
                check(a, p.type)
        elif isinstance(n, ir.IfExp):
            check(n.body, n.type)
            check(n.orelse, n.type)
        elif isinstance(n, ir.TupleLit) and isinstance(n.type, TupleT):
            for a, t in zip(n.elts, n.type.elems):
                check(a, t)
        elif isinstance(n, ir.Prim) and n.op in ("min", "max") and len(n.args) > 1:
            for a in n.args:
                check(a, n.type)
    return out


def _widens(have: Type, want: Type) -> bool:
    if have == INT and want == FLOAT:
        return True
    if isinstance(have, TupleT) and isinstance(want, TupleT) and len(have.elems) == len(want.elems):
        return any(_widens(h, w) for h, w in zip(have.elems, want.elems))
    return False


# ------------------------------------------------------------------ parallel loops

def parallel_safe(loop: ir.ForRange, fn: ir.Function, writes: dict[str, set[int]]) -> bool:
    """May `loop` (a prange) run its iterations in parallel without changing
    the result? See the module docstring for the rules."""
    var = loop.var
    if not is_const(loop.step, 1):
        return False
    body = loop.body
    for n in walk(body):
        if isinstance(n, (ir.Break, ir.Return)):
            return False
        if isinstance(n, ir.ForRange) and n.var == var:
            return False
    if var in assigned(body):
        return False
    written = set(assigned(body)) - {var}
    private: set[str] = set()
    for v in sorted(written):
        if _is_reduction(v, body, fn):
            continue
        if _is_private(v, body) and not _live_after(v, loop, fn):
            private.add(v)
            continue
        return False
    # rows of shared arrays taken at the loop variable: `row = m[i]`
    rows: dict[str, str] = {}
    for s in body:
        if isinstance(s, ir.Assign) and s.name in private and isinstance(s.value, ir.Prim) \
                and s.value.op == "getitem" and isinstance(s.value.args[0], ir.Local) \
                and _is_var(s.value.args[1], var) and isinstance(s.value.type, ArrayT):
            rows[s.name] = s.value.args[0].name
    fresh = {s.name for s in walk(body) if isinstance(s, ir.Assign) and s.name in private
             and fresh_array(s.value)}
    shared_written: set[str] = set()
    for n in walk(body):
        if isinstance(n, ir.SetItem):
            root = root_local(n.obj)
            if root in fresh:
                continue
            if root in rows:
                shared_written.add(rows[root])
                continue
            if root is None or root in private:
                return False
            first = _first_index(n.obj, n.indices)
            if first is None or not _is_var(first, var):
                return False
            shared_written.add(root)
        elif isinstance(n, ir.Call):
            for k in writes.get(n.func, ()):
                arg = n.args[k]
                if fresh_array(arg) or (isinstance(arg, ir.Local) and arg.name in fresh):
                    continue
                if isinstance(arg, ir.Local) and arg.name in rows:
                    shared_written.add(rows[arg.name])
                    continue
                if isinstance(arg, ir.Prim) and arg.op == "getitem" and \
                        isinstance(arg.args[0], ir.Local) and _is_var(arg.args[1], var):
                    shared_written.add(arg.args[0].name)
                    continue
                return False
    for m in shared_written:
        if not _only_row_uses(m, body, var, rows):
            return False
    return True


def _is_var(e: ir.Expr, var: str) -> bool:
    return isinstance(e, ir.Local) and e.name == var


def _first_index(obj: ir.Expr, indices) -> Optional[ir.Expr]:
    """The index applied first to the root array of `obj[indices]`."""
    first = indices[0] if indices else None
    while isinstance(obj, ir.Prim) and obj.op == "getitem":
        first = obj.args[1]
        obj = obj.args[0]
    return first


def _is_reduction(v: str, body: list[ir.Stmt], fn: ir.Function) -> bool:
    if fn.locals.get(v) not in (INT, FLOAT):
        return False
    ops = set()
    updates = [n for n in walk(body) if isinstance(n, (ir.Assign, ir.Unpack, ir.ForRange, ir.ForEach))
               and v in _targets(n)]
    for u in updates:
        if not isinstance(u, ir.Assign) or not isinstance(u.value, ir.Prim):
            return False
        e = u.value
        if e.op not in ("add", "sub", "mul") or len(e.args) != 2:
            return False
        left, right = e.args
        if _is_var(left, v) and not reads(right, v):
            ops.add("add" if e.op == "sub" else e.op)
        elif e.op != "sub" and _is_var(right, v) and not reads(left, v):
            ops.add(e.op)
        else:
            return False
    if len(ops) != 1:
        return False
    # no other read of v in the body
    count = sum(1 for n in walk(body) if isinstance(n, ir.Local) and n.name == v)
    return count == len(updates)


def _targets(n) -> tuple:
    if isinstance(n, ir.Assign):
        return (n.name,)
    if isinstance(n, ir.Unpack):
        return n.names
    if isinstance(n, ir.ForRange):
        return (n.var,)
    if isinstance(n, ir.ForEach):
        return n.targets
    return ()


def _is_private(v: str, body: list[ir.Stmt]) -> bool:
    """Each iteration assigns `v` before it reads it (so no value flows
    between iterations)."""
    return _assigns_before_reads(v, body, False) is not None


def _assigns_before_reads(v: str, stmts: list[ir.Stmt], done: bool) -> Optional[bool]:
    """Walk `stmts` with `done` = v definitely assigned so far: None if v
    may be read before assigned, else whether v is assigned at the end."""
    for s in stmts:
        if isinstance(s, ir.Assign) and s.name == v:
            if not done and reads(s.value, v):
                return None
            done = True
        elif isinstance(s, ir.Unpack) and v in s.names:
            if not done and reads(s.value, v):
                return None
            done = True
        elif isinstance(s, ir.If):
            if not done and reads(s.test, v):
                return None
            a = _assigns_before_reads(v, s.body, done)
            b = _assigns_before_reads(v, s.orelse, done)
            if a is None or b is None:
                return None
            done = a and b
        elif isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
            head = s.test if isinstance(s, ir.While) else (
                [s.start, s.stop, s.step] if isinstance(s, ir.ForRange) else s.iter)
            if not done and reads(head, v):
                return None
            inner = done or (v in _targets(s))
            if _assigns_before_reads(v, s.body, inner) is None:
                return None
            # the loop may run no iteration: v is as assigned as before it
        else:
            if not done and (reads(s, v) or v in assigned([s])):
                return None
    return done


def _live_after(v: str, loop: ir.Stmt, fn: ir.Function) -> bool:
    """Whether `v` may be read after `loop` before being assigned again."""
    path = _path_to(fn.body, loop)
    if path is None:
        return True
    for block, index, owner in reversed(path):
        later = block[index + 1:]
        verdict = _first_use(v, later)
        if verdict is not None:
            return verdict
        if isinstance(owner, (ir.While, ir.ForRange, ir.ForEach)):
            # the enclosing loop may run again: its test and earlier statements follow
            if isinstance(owner, ir.While) and reads(owner.test, v):
                return True
            verdict = _first_use(v, block[:index])
            if verdict is not None:
                return verdict
    return False


def _first_use(v: str, stmts: list[ir.Stmt]) -> Optional[bool]:
    """True: read before assigned; False: assigned first; None: neither."""
    for s in stmts:
        if isinstance(s, ir.Assign) and s.name == v:
            return reads(s.value, v)
        if reads(s, v):
            return True
    return None


def _path_to(block: list[ir.Stmt], target: ir.Stmt, owner=None):
    """[(block, index, owner statement)] from the function body down to
    `target`, outermost first."""
    for i, s in enumerate(block):
        if s is target:
            return [(block, i, owner)]
        for sub in _sub_blocks(s):
            found = _path_to(sub, target, s)
            if found is not None:
                return [(block, i, owner)] + found
    return None


def _sub_blocks(s: ir.Stmt) -> list[list[ir.Stmt]]:
    if isinstance(s, ir.If):
        return [s.body, s.orelse]
    if isinstance(s, (ir.While, ir.ForRange, ir.ForEach)):
        return [s.body]
    return []


def _only_row_uses(m: str, body: list[ir.Stmt], var: str, rows: dict[str, str]) -> bool:
    """Array `m` (written by the loop) is used in the body only at index
    `var` of its first dimension, or by len()/shape."""
    ok_nodes: set[int] = set()
    for n in walk(body):
        if isinstance(n, ir.Prim) and n.op == "getitem" and _is_var(n.args[0], m) \
                and _is_var(n.args[1], var):
            ok_nodes.add(id(n.args[0]))
        elif isinstance(n, ir.Prim) and n.op in ("len", "array.shape") and _is_var(n.args[0], m):
            ok_nodes.add(id(n.args[0]))
        elif isinstance(n, ir.SetItem) and _is_var(n.obj, m) and n.indices and _is_var(n.indices[0], var):
            ok_nodes.add(id(n.obj))
    for n in walk(body):
        if isinstance(n, ir.Local) and n.name == m and id(n) not in ok_nodes:
            return False
    return True


def empty_fully_written(assign: ir.Assign, following: Optional[ir.Stmt]) -> bool:
    """`out = empty(n)` directly followed by `for i in range(n)` (or prange)
    whose body begins with `out[i] = <no read of out>` and cannot leave
    early: every element is written before anything can read it."""
    value = assign.value
    if not (isinstance(value, ir.Prim) and value.op == "empty" and isinstance(value.type, ArrayT)
            and value.type.rank == 1 and value.args and value.args[0].type == INT):
        return False
    loop = following
    if not isinstance(loop, ir.ForRange) or not is_const(loop.start, 0) or not is_const(loop.step, 1):
        return False
    if not same_expr(loop.stop, value.args[0]) or not loop.body:
        return False
    first = loop.body[0]
    if not (isinstance(first, ir.SetItem) and _is_var(first.obj, assign.name)
            and len(first.indices) == 1 and _is_var(first.indices[0], loop.var)
            and not reads(first.value, assign.name)):
        return False
    if assign.name in assigned(loop.body) or loop.var in assigned(loop.body):
        return False
    depth_breaks = _own_breaks(loop.body)
    return not depth_breaks and not any(isinstance(n, ir.Return) for n in walk(loop.body))


def _own_breaks(stmts: list[ir.Stmt]) -> bool:
    for s in stmts:
        if isinstance(s, ir.Break):
            return True
        if isinstance(s, ir.If) and (_own_breaks(s.body) or _own_breaks(s.orelse)):
            return True
    return False


# ------------------------------------------------------------------ lowering

def simple_array(e: ir.Expr) -> bool:
    """An array expression cheap and pure enough to evaluate once more for
    its shape: a local, or a row of one (`m[i]`) at a local or constant."""
    if isinstance(e, ir.Local):
        return True
    return isinstance(e, ir.Prim) and e.op == "getitem" and simple_array(e.args[0]) \
        and all(isinstance(i, (ir.Local, ir.Const)) for i in e.args[1:])


@dataclass
class Facts:
    """What a function's top-level, assign-once statements tell about array
    lengths (used to drop index checks that cannot fail)."""
    single: set[str]                              # locals set once (params never set)
    dims: dict[str, tuple[str, int]]              # n = len(a) / a.shape[k]: n -> (a, k)
    alloc: dict[str, list[ir.Expr]]               # a = zeros((n, m)): a -> [n, m]

    @staticmethod
    def of(fn: ir.Function) -> "Facts":
        counts: dict[str, int] = {}
        for n in walk(fn.body):
            for t in _targets(n):
                counts[t] = counts.get(t, 0) + 1
        top = {t for s in fn.body if isinstance(s, (ir.Assign, ir.Unpack))
               for t in _targets(s) if counts.get(t) == 1}
        single = top | {p.name for p in fn.params if p.name not in counts}
        dims: dict[str, tuple[str, int]] = {}
        alloc: dict[str, list[ir.Expr]] = {}
        for s in fn.body:
            if isinstance(s, ir.Assign) and s.name in single:
                v = s.value
                if isinstance(v, ir.Prim) and v.op == "len" and isinstance(v.args[0], ir.Local) \
                        and isinstance(v.args[0].type, ArrayT) and v.args[0].name in single:
                    dims[s.name] = (v.args[0].name, 0)
                elif isinstance(v, ir.Prim) and v.op == "getitem" and isinstance(v.args[0], ir.Prim) \
                        and v.args[0].op == "array.shape" and isinstance(v.args[0].args[0], ir.Local) \
                        and v.args[0].args[0].name in single and isinstance(v.args[1], ir.Const):
                    dims[s.name] = (v.args[0].args[0].name, v.args[1].value)
                elif isinstance(v, ir.Prim) and v.op in ("zeros", "ones", "empty", "full") \
                        and isinstance(v.type, ArrayT):
                    shape = v.args[0]
                    alloc[s.name] = list(shape.elts) if isinstance(shape, ir.TupleLit) else [shape]
            elif isinstance(s, ir.Unpack) and isinstance(s.value, ir.Prim) \
                    and s.value.op == "array.shape" and isinstance(s.value.args[0], ir.Local) \
                    and s.value.args[0].name in single:
                for k, nm in enumerate(s.names):
                    if nm in single:
                        dims[nm] = (s.value.args[0].name, k)
        return Facts(single, dims, alloc)


def _no_consts(name: str) -> object:
    raise KeyError(name)


@dataclass
class Options:
    boundscheck: bool = True
    consts: Callable[[str], object] = _no_consts      # a module constant's value (KeyError: unknown)


class FunctionLowerer:
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
            tests = []
            for array, axis, index in sorted(invariant):
                dim = ast.Subscript(ast.Attribute(name(py_local(array)), "shape", ast.Load()),
                                    const(axis), ast.Load())
                tests.append(ast.Compare(ast.UnaryOp(ast.USub(), dim), [ast.LtE(), ast.Lt()],
                                         [name(py_local(index)), dim]))
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
        method = getattr(self, "p_" + op.replace(".", "_"), None)
        if method is None:
            raise NotLowerable(f"built-in {op}")
        return method(e)

    # -------------------------------------------------------- operators
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
            if self.gen.options.boundscheck and not self.proven(i, obj, axis) and not (
                    isinstance(obj, ir.Local) and isinstance(i, ir.Local)
                    and (obj.name, axis, i.name) in self.trusted):
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
        """(array, axis, index) of the index checks in an innermost loop
        whose array and index the loop does not change (locals both), and
        that no static fact already covers."""
        if not self.gen.options.boundscheck:
            return set()
        nodes = list(walk(loop.body))
        if any(isinstance(n, (ir.ForRange, ir.While, ir.ForEach)) for n in nodes):
            return set()
        changed = assigned(loop.body) | {loop.var}
        found: set[tuple[str, int, str]] = set()
        for n in nodes:
            if isinstance(n, ir.Prim) and n.op == "getitem":
                obj, idx = n.args[0], n.args[1:]
            elif isinstance(n, ir.SetItem):
                obj, idx = n.obj, n.indices
            else:
                continue
            if not (isinstance(obj, ir.Local) and isinstance(obj.type, ArrayT)) or obj.name in changed:
                continue
            for axis, i in enumerate(idx):
                if isinstance(i, ir.Local) and i.name not in changed and not self.proven(i, obj, axis):
                    found.add((obj.name, axis, i.name))
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
        if isinstance(hi, ir.Prim) and hi.op == "len" and axis == 0 and _is_var(hi.args[0], array):
            return True
        if isinstance(hi, ir.Prim) and hi.op == "getitem" and isinstance(hi.args[0], ir.Prim) \
                and hi.args[0].op == "array.shape" and _is_var(hi.args[0].args[0], array) \
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

    def p_sqrt(self, e):
        return self.math1(e, "sqrt")

    def p_exp(self, e):
        return self.math1(e, "exp")

    def p_log2(self, e):
        return self.math1(e, "log2")

    def p_log10(self, e):
        return self.math1(e, "log10")

    def p_sin(self, e):
        return self.math1(e, "sin")

    def p_cos(self, e):
        return self.math1(e, "cos")

    def p_tan(self, e):
        return self.math1(e, "tan")

    def p_asin(self, e):
        return self.math1(e, "asin")

    def p_acos(self, e):
        return self.math1(e, "acos")

    def p_atan(self, e):
        return self.math1(e, "atan")

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


def fingerprint(functions: list[ir.Function]) -> str:
    """A canonical text of IR functions, spans included (the site lines of
    generated code come from them): equal text, equal generated modules."""
    out: list[str] = []

    def visit(node) -> None:
        if isinstance(node, (list, tuple)):
            out.append("[")
            for x in node:
                visit(x)
            out.append("]")
        elif hasattr(node, "__dataclass_fields__"):
            out.append(type(node).__name__ + "(")
            for f in node.__dataclass_fields__:
                value = getattr(node, f)
                if f == "span":
                    out.append(f"@{value.file}:{value.line}")
                elif f == "type" or not hasattr(value, "__dataclass_fields__") and \
                        not isinstance(value, (list, tuple, dict)):
                    out.append(repr(value))
                elif isinstance(value, dict):
                    out.append(repr(sorted((k, repr(v)) for k, v in value.items())))
                else:
                    visit(value)
                out.append(",")
            out.append(")")
        else:
            out.append(repr(node))
    for fn in functions:
        visit(fn)
        out.append(";")
    return "".join(out)


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

"""Analyses of kernel IR for the Numba back end (runtime/numba_codegen.py,
runtime/jit.py, runtime/cuda.py): IR functions in, facts about them out.

  walking        children/walk, callees, reads/assigned, has_prange;
  whole modules  param_writes (which array parameters a function writes,
                 through its callees too), call_cycles and components (the
                 call graph's strongly connected components, callees
                 first), widening_sites (int values in float slots);
  prange loops   parallel_safe (may this loop run in parallel without
                 changing its result?) and the private/reduction analysis
                 behind it;
  arrays         Facts (what assign-once statements tell about lengths),
                 empty_fully_written;
  identity       fingerprint (a canonical text of IR functions: equal
                 text, equal generated modules).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from npl.compiler import ir
from npl.lang.types import FLOAT, INT, ArrayT, TupleT, Type

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
        if is_private(v, body) and not _live_after(v, loop, fn):
            private.add(v)
            continue
        return False
    # rows of shared arrays taken at the loop variable: `row = m[i]`
    rows: dict[str, str] = {}
    for s in body:
        if isinstance(s, ir.Assign) and s.name in private and isinstance(s.value, ir.Prim) \
                and s.value.op == "getitem" and isinstance(s.value.args[0], ir.Local) \
                and is_var(s.value.args[1], var) and isinstance(s.value.type, ArrayT):
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
            if first is None or not is_var(first, var):
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
                        isinstance(arg.args[0], ir.Local) and is_var(arg.args[1], var):
                    shared_written.add(arg.args[0].name)
                    continue
                return False
    for m in shared_written:
        if not _only_row_uses(m, body, var, rows):
            return False
    return True


def is_var(e: ir.Expr, var: str) -> bool:
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
        if is_var(left, v) and not reads(right, v):
            ops.add("add" if e.op == "sub" else e.op)
        elif e.op != "sub" and is_var(right, v) and not reads(left, v):
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


def is_private(v: str, body: list[ir.Stmt]) -> bool:
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
        if isinstance(n, ir.Prim) and n.op == "getitem" and is_var(n.args[0], m) \
                and is_var(n.args[1], var):
            ok_nodes.add(id(n.args[0]))
        elif isinstance(n, ir.Prim) and n.op in ("len", "array.shape") and is_var(n.args[0], m):
            ok_nodes.add(id(n.args[0]))
        elif isinstance(n, ir.SetItem) and is_var(n.obj, m) and n.indices and is_var(n.indices[0], var):
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
    if not (isinstance(first, ir.SetItem) and is_var(first.obj, assign.name)
            and len(first.indices) == 1 and is_var(first.indices[0], loop.var)
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

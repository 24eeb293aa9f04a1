"""Which kernels run on the GPU (runtime/cuda.py): an IR function in, a
`Pattern` out (or NotGpu saying why not).

The pattern: a body that is scalar set-up and allocations, then one
`prange` loop from 0 with step 1 over array elements, whose body uses
scalars, 1-D arrays indexed by the loop variable only, if/else, inner
`range` loops, arithmetic, comparisons and the scalar math built-ins,
optionally with one scalar `+=` reduction; then a return of an array, the
reduction, or nothing. The set-up and the loop bounds are evaluated on the
host (`host_eval`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from npl.compiler import ir
from npl.lang.types import BOOL, FLOAT, INT, ArrayT, Type

from .kernel_analysis import is_const, is_var, reads, same_expr, walk


class NotGpu(Exception):
    """The kernel does not fit the GPU pattern (the message says why;
    internal: the kernel then runs on the CPU)."""


@dataclass
class Pattern:
    fn: ir.Function
    setup: list[ir.Assign]                  # host statements before the loop, in order
    allocs: dict[str, ir.Prim]              # local -> zeros/ones/empty/full
    loop: ir.ForRange
    reduction: Optional[str]                # the `+=` scalar
    result: Optional[str]                   # returned local (None: returns nothing)
    arrays: list[str] = field(default_factory=list)    # arrays the body uses (params, allocs)
    scalars: list[str] = field(default_factory=list)   # host scalars the body uses
    written: set[str] = field(default_factory=set)     # arrays the body writes
    filled: set[str] = field(default_factory=set)      # allocs written at every i first


def match(fn: ir.Function) -> Pattern:
    """The GPU pattern of `fn`, or NotGpu."""
    if not fn.kernel:
        raise NotGpu("not a @kernel")
    params = {p.name: p.type for p in fn.params}
    body = list(fn.body)
    result = None
    if body and isinstance(body[-1], ir.Return):
        ret = body.pop()
        if ret.value is not None:
            if not isinstance(ret.value, ir.Local):
                raise NotGpu("the return value is not a variable")
            result = ret.value.name
    if not body or not isinstance(body[-1], ir.ForRange) or not body[-1].parallel:
        raise NotGpu("the body does not end with a prange loop")
    loop = body.pop()
    if not (is_const(loop.start, 0) and is_const(loop.step, 1)):
        raise NotGpu("the prange loop does not run from 0 in steps of 1")
    host: dict[str, Type] = {n: t for n, t in params.items() if not isinstance(t, ArrayT)}
    arrays: dict[str, ArrayT] = {n: t for n, t in params.items() if isinstance(t, ArrayT)}
    allocs: dict[str, ir.Prim] = {}
    for s in body:
        if not isinstance(s, ir.Assign) or s.name in params or s.name in host or s.name in arrays:
            raise NotGpu("set-up before the loop is not single assignments")
        v = s.value
        if isinstance(v, ir.Prim) and v.op in ("zeros", "ones", "empty", "full"):
            t = v.type
            if not (isinstance(t, ArrayT) and t.rank == 1 and v.args[0].type == INT):
                raise NotGpu("an allocation that is not 1-D")
            _host_expr(v.args[0], host, arrays)
            if v.op == "full":
                _host_expr(v.args[1], host, arrays)
            allocs[s.name] = v
            arrays[s.name] = t
        elif s.value.type in (INT, FLOAT, BOOL):
            _host_expr(v, host, arrays)
            host[s.name] = fn.locals.get(s.name, v.type)
        else:
            raise NotGpu(f"set-up value of type {v.type}")
    _host_expr(loop.stop, host, arrays)
    reduction = None
    assigned_outer = {n.name for n in walk(loop.body) if isinstance(n, ir.Assign) and n.name in host}
    if loop.var in host or loop.var in arrays:
        raise NotGpu("the loop variable shadows a variable")
    if len(assigned_outer) > 1:
        raise NotGpu("the loop assigns more than one outer variable")
    if assigned_outer:
        reduction = assigned_outer.pop()
        if host[reduction] not in (INT, FLOAT):
            raise NotGpu("the reduction is not an int or float")
    pat = Pattern(fn, body, allocs, loop, reduction, result)
    checker = _BodyChecker(pat, host, arrays)
    checker.block(loop.body)
    from .kernel_analysis import is_private
    for name in checker.local - {loop.var}:
        if not is_private(name, loop.body):
            raise NotGpu(f"'{name}' carries a value from one iteration to the next")
    if reduction is not None and not checker.updates:
        raise NotGpu("the reduction variable is assigned but not with +=")
    if result is not None and result not in arrays and result != reduction and result not in host:
        raise NotGpu("returns something the loop does not make")
    if result is not None and result in host and result != reduction and \
            fn.ret not in (INT, FLOAT, BOOL):
        raise NotGpu("unsupported result")
    pat.arrays = sorted(checker.arrays_used | ({result} & set(arrays) if result else set()))
    pat.scalars = sorted(checker.scalars_used - {reduction} if reduction else checker.scalars_used)
    pat.written = checker.written
    first = loop.body[0] if loop.body else None
    for name, alloc in allocs.items():
        if alloc.op == "empty" and isinstance(first, ir.SetItem) and is_var(first.obj, name) \
                and is_var(first.indices[0], loop.var) and same_expr(loop.stop, alloc.args[0]) \
                and not reads(first.value, name):
            pat.filled.add(name)
    return pat


class _BodyChecker:
    OPS = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "not",
           "int_to_float", "truthy", "bitand", "bitor", "bitxor", "sqrt", "exp", "log", "log2",
           "log10", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "floor", "ceil",
           "isnan", "isinf", "min", "max", "abs", "float", "int", "round", "bool"}

    def __init__(self, pat: Pattern, host: dict, arrays: dict):
        self.pat, self.host, self.arrays = pat, host, arrays
        self.local: set[str] = {pat.loop.var}
        self.arrays_used: set[str] = set()
        self.scalars_used: set[str] = set()
        self.written: set[str] = set()
        self.updates = 0

    def block(self, stmts) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        red = self.pat.reduction
        if isinstance(s, ir.Assign):
            if s.name == red:
                v = s.value
                if not (isinstance(v, ir.Prim) and v.op == "add" and is_var(v.args[0], red)
                        and not reads(v.args[1], red)):
                    raise NotGpu("the reduction is not `+=`")
                self.updates += 1
                self.expr(v.args[1])
                return
            if s.name in self.arrays or s.value.type not in (INT, FLOAT, BOOL):
                raise NotGpu(f"assignment of {s.value.type} in the loop")
            self.expr(s.value)
            self.local.add(s.name)
        elif isinstance(s, ir.SetItem):
            if not (isinstance(s.obj, ir.Local) and s.obj.name in self.arrays
                    and len(s.indices) == 1 and is_var(s.indices[0], self.pat.loop.var)):
                raise NotGpu("an array write other than arr[i] = ...")
            self.arrays_used.add(s.obj.name)
            self.written.add(s.obj.name)
            self.expr(s.value)
        elif isinstance(s, ir.If):
            self.expr(s.test)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, ir.ForRange) and not s.parallel:
            for e in (s.start, s.stop, s.step):
                self.expr(e)
            if s.var in self.arrays or s.var in self.host:
                raise NotGpu("an inner loop variable shadows a variable")
            self.local.add(s.var)
            self.block(s.body)
        else:
            raise NotGpu(f"{type(s).__name__} in the loop")

    def expr(self, e) -> None:
        if isinstance(e, ir.Const):
            if not isinstance(e.value, (int, float, bool)):
                raise NotGpu("a constant that is not a number")
        elif isinstance(e, ir.Local):
            if e.name in self.arrays:
                raise NotGpu("an array used other than as arr[i]")
            if e.name == self.pat.reduction:
                raise NotGpu("the reduction variable is read in the loop")
            if e.name in self.host:
                self.scalars_used.add(e.name)
            elif e.name not in self.local:
                raise NotGpu(f"unknown variable {e.name}")
        elif isinstance(e, ir.Global):
            pass
        elif isinstance(e, ir.Prim) and e.op == "getitem":
            obj, *idx = e.args
            if not (isinstance(obj, ir.Local) and obj.name in self.arrays and len(idx) == 1
                    and is_var(idx[0], self.pat.loop.var)):
                raise NotGpu("an array read other than arr[i]")
            self.arrays_used.add(obj.name)
        elif isinstance(e, ir.Prim):
            if e.op not in self.OPS or e.kwargs or any(isinstance(a.type, ArrayT) for a in e.args):
                raise NotGpu(f"{e.op} in the loop")
            if e.op in ("round",) and len(e.args) != 1:
                raise NotGpu("round(x, n) in the loop")
            for a in e.args:
                self.expr(a)
        elif isinstance(e, ir.Compare):
            if any(op not in ("eq", "ne", "lt", "le", "gt", "ge") for op in e.ops):
                raise NotGpu("a comparison other than == != < <= > >=")
            for a in e.operands:
                self.expr(a)
        elif isinstance(e, (ir.And, ir.Or)):
            for a in e.values:
                self.expr(a)
        elif isinstance(e, ir.IfExp):
            for a in (e.test, e.body, e.orelse):
                self.expr(a)
        else:
            raise NotGpu(f"{type(e).__name__} in the loop")


HOST_OPS = {"add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pos", "len", "int",
            "float", "int_to_float", "min", "max", "abs"}


def _host_expr(e, host: dict, arrays: dict) -> None:
    """`e` can be evaluated on the host before the launch (`host_eval`)."""
    if isinstance(e, ir.Const):
        if not isinstance(e.value, (int, float, bool)):
            raise NotGpu("a non-numeric constant in the set-up")
    elif isinstance(e, ir.Local):
        if e.name not in host:
            raise NotGpu(f"set-up reads {e.name}")
    elif isinstance(e, ir.Global):
        pass
    elif isinstance(e, ir.Prim) and e.op == "len":
        if not (isinstance(e.args[0], ir.Local) and e.args[0].name in arrays):
            raise NotGpu("len() of something other than an array")
    elif isinstance(e, ir.Prim) and e.op == "getitem" and isinstance(e.args[0], ir.Prim) \
            and e.args[0].op == "array.shape" and isinstance(e.args[0].args[0], ir.Local) \
            and e.args[0].args[0].name in arrays and is_const(e.args[1], 0):
        pass
    elif isinstance(e, ir.Prim) and e.op in HOST_OPS and not e.kwargs:
        for a in e.args:
            _host_expr(a, host, arrays)
    else:
        raise NotGpu("set-up the GPU launcher cannot evaluate")


def host_eval(e, env: dict, consts: Callable[[str], Any]):
    """Evaluate a set-up expression (see _host_expr) with Python semantics."""
    if isinstance(e, ir.Const):
        return e.value
    if isinstance(e, ir.Local):
        return env[e.name]
    if isinstance(e, ir.Global):
        return consts(e.name)
    op = e.op
    if op == "len":
        return int(env[e.args[0].name].shape[0])
    if op == "getitem":
        return int(env[e.args[0].args[0].name].shape[0])
    args = [host_eval(a, env, consts) for a in e.args]
    if op == "add":
        return args[0] + args[1]
    if op == "sub":
        return args[0] - args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "truediv":
        return args[0] / args[1]
    if op == "floordiv":
        return args[0] // args[1]
    if op == "mod":
        return args[0] % args[1]
    if op == "neg":
        return -args[0]
    if op == "pos":
        return args[0]
    if op == "int":
        return int(args[0])
    if op in ("float", "int_to_float"):
        return float(args[0])
    if op == "min":
        return min(args)
    if op == "max":
        return max(args)
    if op == "abs":
        return abs(args[0])
    raise NotGpu(op)

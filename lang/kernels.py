"""Kernel eligibility (docs/reference.md §8): checked program in, diagnostics out.

A kernel uses only int, float, bool, arrays of those and tuples of those;
math and array built-ins, range/prange/len/min/max/abs; and other kernels.
`kernel_problems(prog, fn)` lists every offending construct with its span and
the reason; a function marked @kernel with problems is a compile error
(E030). The JIT (runtime/jit.py) uses `is_kernel_eligible` to decide which
unmarked hot functions it may compile.
"""
from __future__ import annotations

from typing import Optional

from . import ast
from .diagnostics import DiagnosticBag
from .symbols import CheckedProgram, FuncInfo
from .types import ARRAY_ELEMS, NONE, ArrayT, ErrorT, IterT, TupleT, Type

KERNEL_BUILTINS = frozenset("""
range prange len min max abs int float bool round sqrt exp log log2 log10 sin cos tan
asin acos atan atan2 floor ceil isnan isinf zeros ones empty full arange copy dot sum
""".split())


SHIFTS = ("<<", ">>")       # Python's ints, unbounded: interpreted only


def kernel_type_ok(t: Type) -> bool:
    if t in ARRAY_ELEMS or isinstance(t, ErrorT):
        return True
    if isinstance(t, ArrayT):
        return True
    if isinstance(t, TupleT):
        return all(kernel_type_ok(e) for e in t.elems)
    return False


def kernel_problems(prog: CheckedProgram, fn: FuncInfo) -> list[tuple[ast.Span, str]]:
    """Every construct that keeps `fn` from being compiled as a kernel."""
    problems: list[tuple[ast.Span, str]] = []
    decl = fn.decl
    if fn.extern or not isinstance(decl, ast.FuncDef) or decl.is_hole:
        return [(decl.span, "only a function with a body can be a kernel")]
    spans = [p.span for p in decl.params] + [decl.span] * (len(fn.params) - len(decl.params))
    for (name, t), span in zip(fn.params, spans):     # a nested function's captures last
        if not kernel_type_ok(t):
            problems.append((span, f"parameter '{name}' is {t}; a kernel takes only int, float, "
                             "bool, arrays and tuples of those"))
    if fn.ret != NONE and not kernel_type_ok(fn.ret):
        span = decl.returns.span if decl.returns is not None else decl.span
        problems.append((span, f"a kernel cannot return {fn.ret}"))
    for stmt in decl.body:
        for node in ast.walk(stmt):
            problems.extend(node_problems(prog, node))
    return problems


def node_problems(prog: CheckedProgram, node) -> list[tuple[ast.Span, str]]:
    """Why `node` keeps its function from being a kernel: the construct itself
    (a call of a non-kernel, a comprehension...), else the type of its value.
    One reason per node, so a construct is not reported twice."""
    why = construct_problem(prog, node)
    if why is None and isinstance(node, ast.Expr):
        why = type_problem(prog, node)
    return [(node.span, why)] if why else []


def construct_problem(prog: CheckedProgram, node) -> Optional[str]:
    if isinstance(node, ast.Call):
        ref = prog.calls.get(node)
        if ref is None:
            return None
        if ref.kind == "func":
            callee = prog.funcs[ref.target]
            return None if callee.kernel else \
                f"'{callee.name}' is not a kernel; a kernel may call only other @kernel functions"
        if ref.kind == "builtin":
            if ref.target == "print":
                return "print is not allowed in a kernel; return the value instead"
            return None if ref.target in KERNEL_BUILTINS else f"{ref.target}() is not allowed in a kernel"
        if ref.kind == "method":
            return f"method {ref.target}() is not allowed in a kernel"
        if ref.kind == "struct":
            return "structs are not allowed in a kernel"
        return None
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return "comprehensions are not allowed in a kernel; write a loop"
    if isinstance(node, ast.Lambda):
        return "lambda is not allowed in a kernel"
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and node.op in SHIFTS:
        return "bit shifts are not allowed in a kernel: multiply or floor-divide by a power of 2"
    if isinstance(node, (ast.StrLit, ast.FString)):
        return "str is not allowed in a kernel"
    if isinstance(node, ast.Slice) and isinstance(prog.types.get(node.value), TupleT):
        return "slicing a tuple is not allowed in a kernel: index its elements"
    if isinstance(node, ast.Assign) and isinstance(node.target, ast.Slice):
        return "assigning to a slice is not allowed in a kernel: assign the elements in a loop"
    return None


def type_problem(prog: CheckedProgram, node: ast.Expr) -> Optional[str]:
    t = prog.types.get(node)
    if t is None or kernel_type_ok(t):
        return None
    if isinstance(node, ast.Call):
        if t == NONE or isinstance(t, IterT):       # procedures; range() and friends
            return None
    elif isinstance(node, ast.Name) and prog.refs.get(node) is None:
        return None                                 # a name being bound, not read
    return f"{t} is not allowed in a kernel"


def dedupe(problems):
    seen, out = set(), []
    for span, msg in problems:
        key = (span.line, span.col, msg)
        if key not in seen:
            seen.add(key)
            out.append((span, msg))
    return out


def check_kernels(prog: CheckedProgram, bag: DiagnosticBag) -> None:
    for fn in prog.funcs.values():
        if fn.kernel:
            for span, msg in dedupe(kernel_problems(prog, fn)):
                bag.error("E030", f"'{fn.name}' cannot be a kernel: {msg}", span)


def is_kernel_eligible(prog: CheckedProgram, fn: FuncInfo) -> bool:
    return not kernel_problems(prog, fn)

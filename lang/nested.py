"""Nested functions: a `def` directly in a function's body.

Models write Python, where a helper is often defined inside the function
that uses it, and reads that function's variables:

    def count_paths(grid: list[list[int]]) -> int:
        rows = len(grid)
        def walk(r: int) -> int:
            return 1 if r == rows else walk(r + 1)
        return walk(0)

A nested function may read, not assign, the variables of the function
around it that are assigned before its `def` (as a lambda may, SPEC §5).
The checker lifts it: it becomes a function of its own, named
`count_paths.<locals>.walk`, whose parameters are its own followed by the
variables it reads from around it (its *captures*), and every call passes
their values at the time of the call. That is what a Python closure reads,
since nothing can assign them while it runs; a list or dict it reads is
the same object, so what it stores there is seen outside. It can call
itself and the nested functions defined before it or in the same run of
`def`s (their captures become its own).

What the checker gives the rest of the compiler is an ordinary function in
`CheckedProgram.funcs` and, for each call, a `CallRef` whose arguments end
with the captured variables: lowering and the runtimes need nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import ast
from .pending import resolve
from .symbols import CallRef, FuncInfo
from .types import NONE, PendingT, Type


@dataclass
class NestedFunc:
    """A nested function as the functions that call it see it: the lifted
    function, the enclosing variables each call passes after the declared
    arguments, and the IR name of the function that defines it."""
    info: FuncInfo
    captures: tuple[str, ...]
    owner: str

    @property
    def declared(self) -> list[tuple[str, Type]]:
        return self.info.params[:len(self.info.params) - len(self.captures)]


@dataclass
class Enclosing:
    """What the body of a nested function sees of the function around it."""
    function: str                  # the enclosing function's name
    nested: dict                   # its nested functions callable from this one
    pending: dict                  # the empty literals this one reads, still untyped
    captures: frozenset            # the variables this one reads from it
    before: frozenset              # its variables assigned before the def
    anywhere: frozenset            # its parameters and the variables it assigns

    def note(self, name: str) -> Optional[str]:
        """Why `name`, undefined in the nested function, is not the enclosing
        function's variable there (None if it is none of its)."""
        if name in self.before:
            return (f"'{name}' is a variable of '{self.function}': a nested function may read "
                    "it but not assign it; return the new value instead")
        if name in self.anywhere:
            return (f"'{name}' is assigned in '{self.function}' after this nested function: it "
                    "reads only the variables assigned before its `def`")
        return None


def check_nested_def(ck, s: ast.FuncDef) -> None:
    """Check the nested `def` `s` where it stands in the function `ck.ctx`
    is checking, with the `def`s right after it (its run): lift them, make
    them callable from here on, and check their bodies. Defining a function
    does nothing, so the functions of a run may call each other in any
    order, as in Python, where the calls happen after the run."""
    ctx = ck.ctx
    if s in ctx.defs_seen:                   # checked with an earlier `def` of its run
        return
    run = _run_of(ctx.body, s)
    ctx.defs_seen.update(run)
    lifted: list[NestedFunc] = []
    for d in run:
        nested = _declare(ck, d, {m.info.name for m in lifted})
        if nested is not None:
            lifted.append(nested)
    _capture(ctx, lifted)
    for nested in lifted:
        ctx.nested[nested.info.name] = nested
        ck.prog.funcs[nested.info.ir_name] = nested.info
    before = frozenset(ctx.locals)          # the same for every `def` of the run
    anywhere = frozenset(_names(ctx.info.decl)[1])
    for nested in lifted:
        _check_body(ck, nested, before, anywhere)


def _run_of(body, s: ast.FuncDef) -> list[ast.FuncDef]:
    """`s` and the `def`s right after it in `body`."""
    start = next((i for i, stmt in enumerate(body) if stmt is s), None)
    if start is None:
        return [s]
    run = []
    for stmt in body[start:]:
        if not isinstance(stmt, ast.FuncDef):
            break
        run.append(stmt)
    return run


def _declare(ck, s: ast.FuncDef, run_names: set[str]) -> Optional[NestedFunc]:
    """The nested function of `s` with its declared signature (None, with
    the error, where `s` cannot be one); `run_names` are those of its run so far."""
    ctx = ck.ctx
    outer = ctx.info
    if ctx.kernel:
        ck.bag.error("E030", f"'{outer.name}' cannot be a kernel: it defines the nested "
                     f"function `{s.name}`; define that at the top level", s.span)
    if s.decorators or s.is_hole:
        what = f"`@{s.decorators[0]}`" if s.decorators else "a hole"
        ck.bag.error("E018", f"a nested function cannot be {what}: define `{s.name}` at the "
                     "top level", s.span)
        return None
    if s.name in ctx.locals or s.name in ctx.nested or s.name in run_names:
        ck.bag.error("E011", f"'{s.name}' is defined twice in '{outer.name}'", s.span)
        return None
    info = FuncInfo(f"{outer.ir_name}.<locals>.{s.name}", s.name, ctx.module, [], NONE, s,
                    kernel=ctx.kernel)
    ck.resolve_signature(info)
    return NestedFunc(info, (), outer.ir_name)


def _capture(ctx, lifted: list[NestedFunc]) -> None:
    """Give each function of a run its captures: the enclosing variables it
    reads, and those of the nested functions it calls, those of its own run
    included (to a fixed point, since they may call each other)."""
    reads, own, calls = {}, {}, {}
    for nested in lifted:
        name, decl = nested.info.name, nested.info.decl
        names, bound = _names(decl)
        own[name] = bound
        reads[name] = [n for n in names if n in ctx.locals and n not in bound]
        for n in names:                     # the captures of earlier nested functions it calls
            if n in ctx.nested and n != name:
                reads[name] += [c for c in ctx.nested[n].captures
                                if c not in bound and c not in reads[name]]
        calls[name] = [n for n in names if n != name and any(m.info.name == n for m in lifted)]
    changed = True
    while changed:
        changed = False
        for name, callees in calls.items():
            for callee in callees:
                new = [c for c in reads[callee] if c not in reads[name] and c not in own[name]]
                reads[name] += new
                changed = changed or bool(new)
    for nested in lifted:
        nested.captures = tuple(reads[nested.info.name])
        nested.info.params = nested.info.params + [(c, ctx.locals[c]) for c in nested.captures]


def _check_body(ck, nested: NestedFunc, before: frozenset, anywhere: frozenset) -> None:
    """Check the body of `nested`, one of a run; `before` and `anywhere` are
    the enclosing function's variables as Enclosing holds them."""
    ctx = ck.ctx
    info = nested.info
    declared = len(nested.declared)
    for k, (name, _) in enumerate(info.params[declared:], declared):
        info.params[k] = (name, ctx.locals[name])      # what an earlier body may have learned
    shared = {name: ctx.pending[name] for name in nested.captures if name in ctx.pending}
    ck.check_function(info, Enclosing(ctx.info.name, ctx.nested, shared,
                                      frozenset(nested.captures), before, anywhere))
    for name in shared:                      # learned inside: the enclosing function knows it too
        if not isinstance(info.locals.get(name), PendingT):
            resolve(ck, name, info.locals[name])


def settle(ck) -> None:
    """Give the captures of the nested functions of `ck.ctx`'s function the
    types their variables have now (an empty list a nested function reads
    may learn its type after the `def`)."""
    ctx = ck.ctx
    for nested in ctx.nested.values():
        info = nested.info
        for k, (name, t) in enumerate(info.params):
            if isinstance(t, PendingT) and not isinstance(ctx.locals.get(name, t), PendingT):
                info.params[k] = (name, ctx.locals[name])
                info.locals[name] = ctx.locals[name]


def nested_call(ck, e: ast.Call, nested: NestedFunc) -> Type:
    """A call of a nested function: its declared arguments, then the values
    of the variables it captures, read here."""
    info = nested.info
    declared = nested.declared
    placed = ck.place_args(e, [n for n, _ in declared], f"'{info.name}'")
    if placed is None:
        return info.ret
    caller = ck.ctx
    if nested.owner != caller.info.ir_name and caller.enclosing is not None:
        hidden = [c for c in nested.captures if c not in caller.enclosing.captures]
        if hidden:                          # the caller's own variable of that name
            ck.bag.error("E018", f"'{caller.info.name}' has its own '{hidden[0]}', but calls "
                         f"'{info.name}', which reads the '{hidden[0]}' of "
                         f"'{caller.enclosing.function}': rename one of them", e.span)
            return info.ret
    for a, (_, t) in zip(placed, declared):
        ck.check(a, t)
    captured = []
    for name, t in info.params[len(declared):]:
        read = ast.Name(name, span=e.span)
        ck.infer(read) if isinstance(t, PendingT) else ck.check(read, t)   # the same variable
        captured.append(read)
    ck.prog.calls[e] = CallRef("func", info.ir_name, tuple(placed + captured))
    return info.ret


def _names(s: ast.FuncDef) -> tuple[list[str], set[str]]:
    """(the names `s` mentions, in order of first use; the names it binds:
    its parameters, and what it assigns or defines). A name a comprehension
    or a lambda binds counts as mentioned: passing a variable of that name
    along is harmless."""
    bound = {p.name for p in s.params}
    named: dict[str, None] = {}
    for node in ast.walk(s):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.For)):
            bound.update(_target_names(node.target))
        elif isinstance(node, ast.FuncDef) and node is not s:
            bound.add(node.name)
        elif isinstance(node, ast.Name):
            named.setdefault(node.id)
    return list(named), bound


def _target_names(target: ast.Expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.TupleExpr):
        return [n for e in target.elts for n in _target_names(e)]
    return []

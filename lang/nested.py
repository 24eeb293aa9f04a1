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
itself and the nested functions defined before it (their captures become
its own).

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
    """A nested function as its enclosing function sees it: the lifted
    function, and the enclosing variables each call passes after the
    declared arguments."""
    info: FuncInfo
    captures: tuple[str, ...]

    @property
    def declared(self) -> list[tuple[str, Type]]:
        return self.info.params[:len(self.info.params) - len(self.captures)]


@dataclass
class Enclosing:
    """What the body of a nested function sees of the function around it."""
    function: str                  # the enclosing function's name
    nested: dict                   # its nested functions defined so far, this one too
    pending: dict                  # the empty literals this one reads, still untyped
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
    is checking: lift it, check its body, and make it callable from here on."""
    ctx = ck.ctx
    outer = ctx.info
    if ctx.kernel:
        ck.bag.error("E030", f"'{outer.name}' cannot be a kernel: it defines the nested "
                     f"function `{s.name}`; define that at the top level", s.span)
    if s.decorators or s.is_hole:
        what = f"`@{s.decorators[0]}`" if s.decorators else "a hole"
        ck.bag.error("E018", f"a nested function cannot be {what}: define `{s.name}` at the "
                     "top level", s.span)
        return
    if s.name in ctx.locals or s.name in ctx.nested:
        ck.bag.error("E011", f"'{s.name}' is defined twice in '{outer.name}'", s.span)
        return
    info = FuncInfo(f"{outer.ir_name}.<locals>.{s.name}", s.name, ctx.module, [], NONE, s,
                    kernel=ctx.kernel)
    ck.resolve_signature(info)
    own = {p for p, _ in info.params}
    captures = [(name, ctx.locals[name]) for name in _read_from_around(s, ctx.nested)
                if name in ctx.locals and name not in own]
    info.params = info.params + captures
    nested = NestedFunc(info, tuple(name for name, _ in captures))
    ctx.nested[s.name] = nested
    ck.prog.funcs[info.ir_name] = info
    shared = {name: ctx.pending[name] for name, t in captures if isinstance(t, PendingT)}
    anywhere = {p.name for p in outer.decl.params}
    for node in ast.walk(outer.decl):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.For)):
            anywhere.update(_target_names(node.target))
    ck.check_function(info, Enclosing(outer.name, ctx.nested, shared, frozenset(ctx.locals),
                                      frozenset(anywhere)))
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
    for a, (_, t) in zip(placed, declared):
        ck.check(a, t)
    captured = []
    for name, t in info.params[len(declared):]:
        read = ast.Name(name, span=e.span)
        ck.infer(read) if isinstance(t, PendingT) else ck.check(read, t)   # the same variable
        captured.append(read)
    ck.prog.calls[e] = CallRef("func", info.ir_name, tuple(placed + captured))
    return info.ret


def _read_from_around(s: ast.FuncDef, nested: dict[str, NestedFunc]) -> list[str]:
    """The names `s` reads and does not assign, in order of first use, with
    the captures of the nested functions it calls. A name bound inside (a
    comprehension's, a lambda's) may be among them: passing its outer value
    along is harmless."""
    assigned = {p.name for p in s.params}
    read: dict[str, None] = {}
    for node in ast.walk(s):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.For)):
            assigned.update(_target_names(node.target))
        elif isinstance(node, ast.FuncDef) and node is not s:
            assigned.add(node.name)
        elif isinstance(node, ast.Name):
            read.setdefault(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in nested:
            read.update(dict.fromkeys(nested[node.func.id].captures))
    return [name for name in read if name not in assigned]


def _target_names(target: ast.Expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.TupleExpr):
        return [n for e in target.elts for n in _target_names(e)]
    return []

"""The checker's per-function state: `FuncContext` holds the locals a
function body declares, the narrowing facts that hold at the point being
checked, the scopes of enclosing comprehensions and lambdas, and the loop
depth. lang/checker.py makes one per function, constant and test;
lang/check_exprs.py one for a comprehension or lambda outside a function.
"""
from __future__ import annotations

from typing import Optional

from .symbols import FuncInfo
from .types import Type


class FuncContext:
    """Per-function checking state: declared locals, narrowed optionals,
    comprehension/lambda scopes, loop depth."""

    def __init__(self, info: Optional[FuncInfo], module: str, kernel: bool = False,
                 enclosing=None):
        self.info = info
        self.module = module
        self.locals: dict[str, Type] = {}
        self.narrowed: dict[str, Type] = {}
        self.pending: dict = {}             # lang/pending.py
        self.inner_scopes: list[dict[str, Type]] = []
        self.loop_depth = 0
        self.kernel = kernel
        self.body: tuple = ()               # the function's statements (lang/fixes.py)
        self.top = None                     # the one of them being checked
        self.enclosing = enclosing          # lang/nested.py Enclosing, in a nested function
        self.nested: dict = dict(enclosing.nested) if enclosing else {}   # name -> NestedFunc
        self.defs_seen: set = set()         # the nested `def`s of the body checked so far
        self.pending.update(enclosing.pending if enclosing else {})

    def lookup(self, name: str) -> Optional[Type]:
        for scope in reversed(self.inner_scopes):
            if name in scope:
                return scope[name]
        if name in self.narrowed:
            return self.narrowed[name]
        return self.locals.get(name)

    def visible(self) -> dict[str, Type]:
        out = {n: self.narrowed.get(n, t) for n, t in self.locals.items()}
        for scope in self.inner_scopes:
            out.update((n, t) for n, t in scope.items() if "." not in n)
        return out

    # Narrowing facts map a variable `x`, or a field path `x.f.g`, to the type
    # it has while the fact holds. A fact about a variable bound by a
    # comprehension or lambda lives in that variable's scope.
    def narrow(self, facts: dict[str, Type]) -> None:
        for key, t in facts.items():
            root = key.split(".", 1)[0]
            scope = next((s for s in reversed(self.inner_scopes) if root in s), self.narrowed)
            scope[key] = t

    def narrowed_path(self, path: str) -> Optional[Type]:
        """The narrowed type of field path `x.f`, if a check established one."""
        root = path.split(".", 1)[0]
        for scope in reversed(self.inner_scopes):
            if path in scope:
                return scope[path]
            if root in scope:
                return None
        return self.narrowed.get(path)

    def forget(self, key: str) -> None:
        """Drop the facts about `key` (a variable or a field path) and its fields."""
        for k in [k for k in self.narrowed if k == key or k.startswith(key + ".")]:
            del self.narrowed[k]

    def snapshot(self):
        return dict(self.narrowed), [dict(s) for s in self.inner_scopes]

    def restore(self, snap) -> None:
        narrowed, scopes = snap
        self.narrowed = narrowed
        for scope, saved in zip(self.inner_scopes, scopes):
            scope.clear()
            scope.update(saved)

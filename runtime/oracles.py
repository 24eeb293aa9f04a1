"""Oracle calls at run time (SPEC section 10; docs/oracles.md).

An @oracle function's body is one `ir.OracleBody`: generated code calls
`_oracle(IR name, args)` in its place. A list comprehension whose element
is a direct oracle call collects every call's arguments first and calls
`_oracle_all(IR name, [args, ...])`, and `map(oracle, xs)` and
`filter(oracle, xs)` become `_oracle_map` and `_oracle_filter`, so that an
answerer can ask the calls concurrently (results keep the list's order).

The runtime does not know models: a `Program` holds an `OracleAnswerer`,
which the layer that runs the program installs (npl/ puts filling/oracles.py's
`Oracles` there: answer store, provider, --frozen). Without one, an oracle
call is the run-time error "no model to answer it".
"""
from __future__ import annotations

from typing import Any, Protocol

from npl.compiler import ir

from .errors import NplRuntimeError


class OracleAnswerer(Protocol):
    def ask(self, fn: ir.Function, args: tuple) -> Any:
        """The value of oracle `fn` at `args` (NPL values), of `fn.ret`;
        raises NplRuntimeError("oracle", ...) when there is none."""
        ...

    def ask_all(self, fn: ir.Function, calls: list[tuple]) -> list[Any]:
        """`ask` for each argument tuple, in order (concurrently where the
        answerer can)."""
        ...


class NoAnswerer:
    """The answerer of a program run with no model set up for oracles."""

    def ask(self, fn: ir.Function, args: tuple) -> Any:
        raise NplRuntimeError("oracle", f"oracle '{fn.source_name or fn.name}' has no model to "
                              "answer it (run the program with `npl run`, or give npl.load a model)")

    def ask_all(self, fn: ir.Function, calls: list[tuple]) -> list[Any]:
        return [self.ask(fn, args) for args in calls]


def bind_oracles(namespace: dict, module: ir.Module, answerer_of) -> None:
    """Bind `_oracle` and `_oracle_all` in a program's namespace; each call
    asks the answerer `answerer_of()` returns at that moment (so a host can
    install one after loading)."""
    oracles = {f.name: f for f in module.functions if f.oracle}
    if not oracles:
        return

    def oracle(name: str, args: tuple) -> Any:
        return answerer_of().ask(oracles[name], args)

    def oracle_all(name: str, calls: list) -> list:
        return answerer_of().ask_all(oracles[name], [tuple(c) for c in calls])

    def oracle_map(name: str, items) -> Any:
        return iter(oracle_all(name, [(x,) for x in items]))

    def oracle_filter(name: str, items) -> Any:
        items = list(items)
        keep = oracle_all(name, [(x,) for x in items])
        return iter([x for x, k in zip(items, keep) if k])

    namespace["_oracle"] = oracle
    namespace["_oracle_all"] = oracle_all
    namespace["_oracle_map"] = oracle_map
    namespace["_oracle_filter"] = oracle_filter

"""Oracles (SPEC section 10; docs/oracles.md): what the checker asks of an
`@oracle` function.

An oracle is a function hole whose calls the model answers at run time, as
values, so it must be a hole (a docstring and `...`), cannot be a kernel,
must return a value, and takes and returns only types a JSON value can
carry: no arrays, no functions, inside containers and struct fields
included. Problems are E070 diagnostics; a well-formed oracle is recorded
in `CheckedProgram.oracles`.
"""
from __future__ import annotations

from typing import Optional

from .symbols import FuncInfo
from .types import NONE, ArrayT, FuncT, IterT, StructT, Type, inner_types


def check_oracle(checker, fn: FuncInfo) -> None:
    decl = fn.decl
    problems = []
    if not decl.is_hole:
        problems.append((decl.span, f"@oracle '{fn.name}' has a body: an oracle is a function hole "
                         "(a docstring, then `...`) whose calls the model answers"))
    if fn.kernel:
        problems.append((decl.span, f"'{fn.name}' cannot be both @kernel and @oracle: a kernel is "
                         "compiled to machine code, an oracle is answered by a model"))
    if fn.ret == NONE:
        problems.append((decl.returns.span if decl.returns is not None else decl.span,
                         f"@oracle '{fn.name}' must declare the type of value it answers "
                         "(e.g. `-> str`)"))
    for (name, t), p in zip(fn.params, decl.params):
        why = unanswerable(checker.prog, t)
        if why:
            problems.append((p.span, f"oracle parameter '{name}' is {t}: {why}"))
    why = unanswerable(checker.prog, fn.ret)
    if why:
        problems.append((decl.returns.span if decl.returns is not None else decl.span,
                         f"an oracle cannot return {fn.ret}: {why}"))
    for span, message in problems:
        checker.bag.error("E070", message, span)
    if not problems:
        checker.prog.oracles.append(fn)


def unanswerable(prog, t: Type, seen: Optional[set] = None) -> Optional[str]:
    """Why a value of type `t` cannot pass to or from a model as JSON, or None."""
    seen = set() if seen is None else seen
    if isinstance(t, ArrayT):
        return "arrays cannot be sent to or answered by a model (use a list)"
    if isinstance(t, (FuncT, IterT)):
        return "functions and iterators cannot be sent to or answered by a model"
    if isinstance(t, StructT) and t.name not in seen:
        seen.add(t.name)
        info = prog.structs.get(t.name)
        for _, field_type in (info.fields if info else ()):
            why = unanswerable(prog, field_type, seen)
            if why:
                return f"struct {t} holds one: {why}"
    for inner in inner_types(t):
        why = unanswerable(prog, inner, seen)
        if why:
            return why
    return None

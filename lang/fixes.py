"""The checker's machine-applicable fixes that need more than the
expression at fault (lang/diagnostics.py `Fix`).

    renamed_from_here(ck, name, got) -> Fix | None

Python lets `s = list(s)` give a variable a value of another type; NPL
keeps one type per variable (E012). Where the assignment is a statement of
the function's own body, not inside a branch or loop, Python's reading is
exactly a new variable from that statement on: every later statement runs
after it, and none runs before it again. The fix names that variable
(`s_list`) in the assignment and every later use.
"""
from __future__ import annotations

from typing import Optional

from . import ast
from .diagnostics import Edit, Fix
from .types import Type


def renamed_from_here(ck, name: str, got: Type) -> Optional[Fix]:
    """The fix for `name = value` where the value's type `got` is not
    `name`'s, or None where the renaming would not mean what Python means:
    an assignment inside a branch or loop (the old value may still flow
    on), one with an annotation, or a later lambda with a parameter of
    that name."""
    stmt, body = ck.ctx.top, ck.ctx.body
    if not (isinstance(stmt, ast.Assign) and isinstance(stmt.target, ast.Name)
            and stmt.target.id == name and stmt.annotation is None):
        return None
    later = [n for s in body[body.index(stmt) + 1:] for n in ast.walk(s)]
    if any(isinstance(n, ast.Lambda) and name in n.params for n in later):
        return None
    new = fresh_name(ck, f"{name}_{type_word(got)}")
    edits = [Edit(stmt.target.span, new)]
    edits += [Edit(n.span, new) for n in later if isinstance(n, ast.Name) and n.id == name]
    return Fix(tuple(edits), f"'{name}' from line {stmt.span.line} on is a new variable "
                             f"'{new}' ({got})")


def fresh_name(ck, base: str) -> str:
    """`base`, or `base2`, `base3`, ...: a name no local, function or
    constant of the program has."""
    taken = {n.id for s in ck.ctx.body for n in ast.walk(s) if isinstance(n, ast.Name)}
    taken |= set(ck.ctx.locals) | set(ck.prog.funcs) | set(ck.prog.consts)
    new, i = base, 2
    while new in taken:
        new, i = f"{base}{i}", i + 1
    return new


def type_word(t: Type) -> str:
    """A word for naming a variable of type `t`: list, dict, str, ..."""
    return str(t).split("[", 1)[0].split(" ", 1)[0].lower()

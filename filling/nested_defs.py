"""Nested helper functions in a model's reply, moved to the top level.

Models write Python, where a helper is often defined inside the function
that uses it:

    def heap_queue_largest(nums: list[int], n: int) -> list[int]:
        def heapify(arr: list[int], n: int, i: int):
            ...
        ...

NPL has no nested functions (E018), but a nested `def` that uses nothing of
the function around it is the same function at the top level, before the
one that holds it; a fill may bring helper functions. `hoist_nested_defs`
makes that move, so such a reply is not spent on a repair round; a nested
function that uses the outer function's parameters or variables (a
closure) stays where it is, and the checker's E018 says what to write
instead. Nested functions may call each other and themselves.

The reply is only read here, never run: Python's own parser (`ast`) finds
the statements' lines and `symtable` the names a nested function takes
from around it. Anything it cannot read is returned unchanged; what comes
out is checked by the NPL compiler like every fill.
"""
from __future__ import annotations

import ast
import symtable
from typing import Optional


def hoist_nested_defs(code: str, func_name: str) -> str:
    """`code` with the closure-free `def`s directly in `func_name`'s body
    moved before it (dedented); `code` itself when there are none, when one
    of them is a closure, or when Python cannot parse it."""
    try:
        tree = ast.parse(code)
        table = symtable.symtable(code, "<reply>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    outer = next((node for node in tree.body if isinstance(node, ast.FunctionDef)
                  and node.name == func_name), None)
    if outer is None:
        return code
    nested = [s for s in outer.body if isinstance(s, ast.FunctionDef)]
    rest = [s for s in outer.body if not isinstance(s, ast.FunctionDef) and not _docstring(s)]
    if not nested or not rest or not _movable(table, outer, nested):
        return code
    lines = code.split("\n")
    moved: list[str] = []
    dropped: set[int] = set()
    for node in nested:
        block = range(node.lineno - 1, node.end_lineno)
        moved += [_dedented(lines[i], node.col_offset) for i in block] + [""]
        dropped.update(block)
    start = min([outer.lineno] + [d.lineno for d in outer.decorator_list]) - 1
    kept = [line for i, line in enumerate(lines) if i >= start and i not in dropped]
    return "\n".join(lines[:start] + moved + kept)


def _movable(table: symtable.SymbolTable, outer: ast.FunctionDef,
             nested: list[ast.FunctionDef]) -> bool:
    """Whether every nested function takes from the outer one nothing but
    the nested functions themselves (and has no decorators)."""
    outer_table = _child(table, outer)
    if outer_table is None:
        return False
    names = {node.name for node in nested}
    for node in nested:
        inner = _child(outer_table, node)
        if node.decorator_list or inner is None or not isinstance(inner, symtable.Function):
            return False
        if set(inner.get_frees()) - names:
            return False
    return True


def _child(table: symtable.SymbolTable, node: ast.FunctionDef) -> Optional[symtable.SymbolTable]:
    return next((child for child in table.get_children()
                 if child.get_name() == node.name and child.get_lineno() == node.lineno), None)


def _docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _dedented(line: str, indent: int) -> str:
    """`line` without `indent` leading spaces (a line of a multi-line string
    that has fewer stays as it is)."""
    return line[indent:] if not line[:indent].strip() else line

"""Python idioms in a model's reply, written as the NPL they mean.

Takes in: the code of a model's reply (filling/replies.py extract_code).
Gives back: the same code with four Python idioms that have an exact NPL
equivalent rewritten, everything else untouched:

    math.sqrt(x), math.pi,                  sqrt(x), pi, heappush(h, x),
    heapq.heappush(h, x),                   Counter(xs): only for names that
    collections.Counter(xs)                 NPL has built in
    import math / from heapq import heappop dropped, when what they bring in
    / from collections import Counter       is built in (NPL imports nothing)
    a = b = value                           a = value
                                            b = a      (plain names only)
    raise ValueError("bad n")               assert False, "bad n"
                                            (one line; NPL has no exceptions,
                                            so a raise can never be caught:
                                            it ends the program with its
                                            message, as a failed assert does)

Small models write these out of habit, and a grammar that forbids them
(filling/providers/gbnf.py) does not make them write NPL instead: it bends
the reply into something else (`importmath`, `a = b == value`). So the
grammar lets them through and they are rewritten here, before the checks.
(Forbidding `raise` made the local model write `raiseValueError("...")`, a
call of an undefined name, in 4 to 10 attempts of each fill benchmark run.)
Any other import (`import os`, `from collections import defaultdict`)
stays, and the compiler says that NPL imports nothing.

The reply is only read here, never run: Python's own parser (`ast`) finds
the statements. Anything it cannot read is returned unchanged; what comes
out is checked by the NPL compiler like every fill.
"""
from __future__ import annotations

import ast

from npl.lang.builtin_sigs import (BUILTIN_FUNCTIONS, HEAP_FUNCTIONS, ITERTOOLS_FUNCTIONS,
                                   MATH_CONSTANTS)

# Python modules whose functions NPL has built in under the same names.
BUILT_IN_MODULES = {"math": BUILTIN_FUNCTIONS | frozenset(MATH_CONSTANTS),
                    "heapq": HEAP_FUNCTIONS, "collections": frozenset({"Counter"}),
                    "itertools": ITERTOOLS_FUNCTIONS}


def rewrite_pythonisms(code: str) -> str:
    """`code` with one-line `raise` statements written `assert False`,
    `math.NAME`, `heapq.NAME`, `itertools.NAME` and `collections.Counter`
    written `NAME` for NPL's built-ins, the imports of those modules that
    leaves unused dropped, and chained assignments to plain names split;
    `code` itself when Python cannot parse it or there is nothing to
    rewrite."""
    tree = _parsed(code)
    if tree is None:
        return code
    lines = code.split("\n")
    for rewritten in (_raises_as_asserts, _module_prefixes_dropped):   # each keeps the lines
        before, lines = lines, rewritten(tree, lines)
        if lines != before:
            tree = _parsed("\n".join(lines))
            if tree is None:
                return code
    source = "\n".join(lines)
    edits: dict[int, tuple[int, list[str]]] = {}    # first line -> (lines replaced, new lines)
    for node in ast.walk(tree):
        if _built_in_import(node, tree) and _alone(node, lines):
            kept = [] if _has_siblings(tree, node) else [_indent(lines, node) + "pass"]
        elif _chained_names(node) and _alone(node, lines):
            kept = _split_chain(node, lines, source)
        else:
            continue
        edits[node.lineno - 1] = (node.end_lineno - node.lineno + 1, kept)
    out, i = [], 0
    while i < len(lines):
        if i in edits:
            count, kept = edits[i]
            out += kept
            i += count
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def _built_in_import(node: ast.AST, tree: ast.Module) -> bool:
    """Whether `node` is `import math` or `import heapq` (with no `math.`
    left that NPL lacks) or `from math import` of built-in names only.
    Other imports stay, and the compiler says that NPL has no imports."""
    if isinstance(node, ast.Import):
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        return all(a.name in BUILT_IN_MODULES and a.asname is None and a.name not in used
                   for a in node.names)
    return isinstance(node, ast.ImportFrom) and node.module in BUILT_IN_MODULES \
        and node.level == 0 \
        and all(a.name in BUILT_IN_MODULES[node.module] and a.asname is None for a in node.names)


def _chained_names(node: ast.AST) -> bool:
    return (isinstance(node, ast.Assign) and len(node.targets) > 1
            and all(isinstance(t, ast.Name) for t in node.targets))


def _split_chain(node: ast.Assign, lines: list[str], source: str) -> list[str]:
    """`a = b = value` as `a = value` and `b = a`: Python stores the one
    value in the targets from left to right."""
    pad, first = _indent(lines, node), node.targets[0].id
    value = ast.get_source_segment(source, node.value) or ""
    return [f"{pad}{first} = {value}"] + [f"{pad}{t.id} = {first}" for t in node.targets[1:]]


def _parsed(code: str):
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _module_prefixes_dropped(tree: ast.Module, lines: list[str]) -> list[str]:
    """`lines` with `math.` and `heapq.` removed before NPL's built-in
    names, unless the reply binds that name itself (a parameter or
    variable called `math`)."""
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    cuts = sorted(((n.value.lineno - 1, n.value.col_offset, n.value.end_col_offset)
                   for n in ast.walk(tree)
                   if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                   and n.value.id in BUILT_IN_MODULES and n.value.id not in bound
                   and n.attr in BUILT_IN_MODULES[n.value.id]
                   and n.value.lineno == n.value.end_lineno),
                  reverse=True)
    lines = list(lines)
    for row, start, end in cuts:             # right to left, so offsets stay valid
        raw = lines[row].encode()            # ast's columns count UTF-8 bytes
        rest = raw[end:].lstrip()
        if rest.startswith(b"."):
            lines[row] = (raw[:start] + rest[1:].lstrip()).decode()
    return lines


def _raises_as_asserts(tree: ast.Module, lines: list[str]) -> list[str]:
    """`lines` with each one-line `raise E(message)` written `assert False,
    message` (a plain or f-string message; other arguments become the
    text of the exception, `raise E(n)` -> `assert False, 'E(n)'`; a bare
    `raise`, `assert False`). Only a statement's own columns change."""
    cuts = sorted(((n.lineno - 1, n.col_offset, n.end_col_offset, _abort(n))
                   for n in ast.walk(tree)
                   if isinstance(n, ast.Raise) and n.cause is None and n.lineno == n.end_lineno),
                  reverse=True)
    lines = list(lines)
    for row, start, end, text in cuts:      # right to left on a line, so offsets stay valid
        raw = lines[row].encode()           # ast's columns count UTF-8 bytes
        lines[row] = (raw[:start] + text.encode() + raw[end:]).decode()
    return lines


def _abort(node: ast.Raise) -> str:
    """The `assert False` that means what `node` does in a program that
    cannot catch it."""
    exc = node.exc
    if exc is None:
        return "assert False"
    if isinstance(exc, ast.Call) and len(exc.args) == 1 and not exc.keywords:
        message = exc.args[0]
        if isinstance(message, ast.JoinedStr) or \
                isinstance(message, ast.Constant) and isinstance(message.value, str):
            return f"assert False, {ast.unparse(message)}"
    return f"assert False, {ast.unparse(exc)!r}"


def _alone(node: ast.stmt, lines: list[str]) -> bool:
    """Whether `node` has its lines to itself (not `if x: import y`, not
    `a = b = 0; c = 1`)."""
    first, last = lines[node.lineno - 1], lines[node.end_lineno - 1]
    head = first.encode()[:node.col_offset].decode(errors="replace")
    tail = last.encode()[node.end_col_offset:].decode(errors="replace").strip()
    return not head.strip() and (not tail or tail.startswith("#"))


def _has_siblings(tree: ast.Module, node: ast.stmt) -> bool:
    """Whether the block holding `node` has statements other than imports
    (dropping it then leaves the block non-empty)."""
    for parent in ast.walk(tree):
        for field in ("body", "orelse"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and node in block:
                return any(not isinstance(s, (ast.Import, ast.ImportFrom)) for s in block) \
                    or isinstance(parent, ast.Module)
    return True


def _indent(lines: list[str], node: ast.stmt) -> str:
    line = lines[node.lineno - 1]
    return line[:len(line) - len(line.lstrip())]


"""Empty literals typed by their later use.

Code models write `result = []` and `seen = set()` constantly. Where no
annotation or expected type gives the element type, the checker declares
the local with a `PendingT` and learns the type from the first use that
determines it, in source order:

    result.append(x) / result.insert(i, x) / result.extend(xs)  -> list
    seen.add(x)                                                  -> set
    counts[k] = v / counts.setdefault(k, v) / counts.get(k, v)   -> dict
    x in seen / x not in seen                                    -> list, set
    d[k] += v                                                    -> dict
    return d[k] (a read where a type is expected)                -> dict
    c = Counter(); c[k] += 1 / c[k] = n / c.update(keys)         -> Counter
    return result, f(result), y: list[int] = result              -> the expected type
    result = xs (a list, set, dict or Counter of the same kind)  -> the type of xs

Every node typed while the local was pending is retyped then. A local still
pending at the end of its function is E019, asking for an annotation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from .types import ERROR, CounterT, DictT, ErrorT, ListT, PendingT, SetT, Type, element_type

EXAMPLES = {"list": "list[int]", "set": "set[int]", "dict": "dict[str, int]",
            "Counter": "Counter[str]"}
LITERALS = {"list": "[]", "set": "set()", "dict": "{}", "Counter": "Counter()"}
KINDS = {"list": ListT, "set": SetT, "dict": DictT, "Counter": CounterT}
KEYED_KINDS = ("dict", "Counter")     # the kinds a store `d[k] = v` determines


@dataclass
class PendingLocal:
    kind: str
    span: ast.Span
    nodes: list = field(default_factory=list)


def start(ck, target: ast.Name, value: ast.Expr, kind: str) -> None:
    t = PendingT(kind)
    ck.ctx.locals[target.id] = t
    ck.ctx.pending[target.id] = PendingLocal(kind, value.span, [target, value])
    ck.prog.types[target] = t
    ck.prog.types[value] = t
    if isinstance(value, ast.Call):           # list() / set() / dict() / Counter()
        from .symbols import CallRef
        ck.prog.calls[value] = CallRef("builtin", value.func.id, ())


def note(ck, node: ast.Expr, name: str) -> None:
    """`node` was typed with `name`'s pending type: retype it later."""
    p = ck.ctx.pending.get(name) if ck.ctx is not None else None
    if p is not None:
        p.nodes.append(node)


def fits(kind: str, t: Type) -> bool:
    return KINDS[kind] is type(t)


def resolve(ck, name: str, t: Type) -> Type:
    """Fix pending local `name` to `t` and retype what was typed with it."""
    p = ck.ctx.pending.pop(name, None)
    if p is None:
        return ck.ctx.locals.get(name, t)
    ck.ctx.locals[name] = t
    for node in p.nodes:
        ck.prog.types[node] = t
    return t


def from_store(ck, name: str, t: PendingT, key: ast.Expr, value: ast.Expr) -> Type:
    """`d[key] = value` (or `d[key] += value`) on pending local `name`: a
    dict learns its key and value types, a Counter its key type (the count
    is checked as an int)."""
    kt = ck.infer(key)
    return resolve(ck, name, CounterT(kt) if t.kind == "Counter" else DictT(kt, ck.infer(value)))


def from_read(ck, name: ast.Name, t: PendingT, key: ast.Expr, expected) -> Type:
    """`d[key]` read from pending local `d` where a value of type `expected`
    is wanted (`return memo[n]`): a dict learns both types, a Counter its
    key type; anything else is E019."""
    if t.kind == "Counter":
        return resolve(ck, name.id, CounterT(ck.infer(key)))
    if t.kind == "dict" and expected is not None and not isinstance(expected, (ErrorT, PendingT)):
        return resolve(ck, name.id, DictT(ck.infer(key), expected))
    unknown(ck, name, t)
    return ERROR


def from_expected(ck, e: ast.Expr, got: Type, expected: Type) -> Type:
    """`e` (a pending local) used where `expected` is wanted."""
    if isinstance(e, ast.Name) and isinstance(got, PendingT) and fits(got.kind, expected):
        return resolve(ck, e.id, expected)
    return got


def from_method(ck, receiver: ast.Expr, t: PendingT, method: str, args) -> Type:
    """The type a method call on a pending local determines, or ERROR (and
    an E019) when it determines nothing."""
    name = receiver.id if isinstance(receiver, ast.Name) else None
    learned = None
    if t.kind == "list" and method == "append" and len(args) == 1:
        learned = ListT(ck.infer(args[0]))
    elif t.kind == "list" and method == "insert" and len(args) == 2:
        learned = ListT(ck.infer(args[1]))
    elif t.kind == "list" and method == "extend" and len(args) == 1:
        et = element_type(ck.infer(args[0]))
        learned = ListT(et) if et is not None else None
    elif t.kind == "Counter" and method in ("update", "subtract") and len(args) == 1:
        key = element_type(ck.infer(args[0]))     # a dict's keys, or the elements
        learned = CounterT(key) if key is not None else None
    elif t.kind == "set" and method == "add" and len(args) == 1:
        learned = SetT(ck.infer(args[0]))
    elif t.kind == "dict" and method in ("setdefault", "get") and len(args) == 2:
        learned = DictT(ck.infer(args[0]), ck.infer(args[1]))
    if name is None or learned is None or any(isinstance(x, ErrorT) for x in vars(learned).values()):
        unknown(ck, receiver, t)
        return ERROR
    return resolve(ck, name, learned)


def unknown(ck, node: ast.Expr, t: PendingT) -> None:
    name = node.id if isinstance(node, ast.Name) else "it"
    ck.bag.error("E019", f"the element type of the empty {t.kind} '{name}' is not known here: "
                 f"annotate it where it is created, e.g. {name}: {EXAMPLES[t.kind]} = "
                 f"{LITERALS[t.kind]}", node.span)
    if isinstance(node, ast.Name):
        resolve(ck, node.id, ERROR)


def finish(ck, keep: set = frozenset()) -> None:
    """Report locals still pending at the end of a function, but those in
    `keep` (a nested function's captures, which the function around it may
    still type: lang/nested.py)."""
    for name, p in list(ck.ctx.pending.items()):
        if name in keep:
            continue
        ck.bag.error("E019", f"an empty {p.kind} needs a type: write {name}: {EXAMPLES[p.kind]} = "
                     f"{LITERALS[p.kind]}", p.span)
        resolve(ck, name, ERROR)

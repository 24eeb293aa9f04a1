"""Operators of the example-driven synthesizer: what an op is, how it prints.

An `Op` is one NPL operator, built-in function, method, subscript form or
conditional (the table of them is `synth_table`). It takes argument terms
and gives back a value per evaluation point and NPL source text. Each op
knows

* its typed signatures (`Sig`), produced from the types the search has
  values of, so only type-correct NPL is ever built: `bool` is not a number,
  `/` gives `float`, `int` widens to `float` only in mixed arithmetic;
* how to compute it on Python values (NPL's semantics are Python's for every
  op used), guarded against results past the size limits;
* how to print itself, with parentheses only where precedence needs them;
* restrictions on its arguments that keep the banks to expressions people
  write: `limits` caps argument sizes (separators and widths are leaves, the
  receiver of `split` is small) and `kinds` says which arguments must
  mention a variable (`s.zfill(n)`, not `"even".zfill(n)`), must be
  literals (the characters of `s.strip(".,")`) or must be positions: an
  index or slice bound into a sequence is computed from variables,
  literals, lengths and positions found (`len`, `.index`, `.find`), never
  from the elements' values (`xs[:sum(xs)]` fits [1, -2, 3] -> 2 as
  "how many are positive" by accident, not by design).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from npl.lang.types import FLOAT, INT, STR, DictT, IterT, ListT, SetT, Type

from .values import ERR, LEN_LIMIT

# Python/NPL precedence levels, lowest binding first.
P_TERNARY, P_OR, P_AND, P_NOT, P_CMP = 1, 2, 3, 4, 5
P_BOR, P_BXOR, P_BAND, P_ADD, P_MUL, P_UNARY, P_POW, P_ATOM = 6, 7, 8, 10, 11, 12, 13, 14


@dataclass(frozen=True)
class Sig:
    """One typing of an op: argument types -> result type. `comm` marks a
    commutative typing, so the enumerator tries each unordered pair once."""
    args: tuple[Type, ...]
    ret: Type
    comm: bool = False


@dataclass(eq=False)
class Op:
    name: str
    arity: int
    sigs: Callable[[tuple], list[Sig]]        # types present -> typings
    render: Callable[[tuple], tuple[str, int]]
    fn: Optional[Callable] = None               # eager: one value per argument
    vec: Optional[Callable] = None              # lazy: whole argument vectors
    cost: int = 1                               # AST nodes the op adds
    limits: tuple[int, ...] = ()                # max size per argument, 0 = any
    kinds: tuple[str, ...] = ()                 # per argument: ANY, VAR, CONST or POS
    nodes: Optional[int] = None                 # AST nodes, where an idiom costs less than
                                                # it prints (`zip(xs, xs[1:])`): see ast_size

    def fits(self, sizes: tuple[int, ...]) -> bool:
        return all(not cap or size <= cap for size, cap in zip(sizes, self.limits))

    def accepts(self, args: tuple) -> bool:
        """Arguments of the right kinds, and at least one that varies (an
        expression of constants alone is never worth building)."""
        for arg, kind in zip(args, self.kinds):
            if (kind == VAR and not arg.varying) or (kind == CONST and arg.varying):
                return False
            if kind == POS and not is_position(arg) and not isinstance(args[0].type, DictT):
                return False
        return any(a.varying for a in args)


LEAF = 1
ANY, VAR, CONST, POS = "", "var", "const", "pos"

POSITION_OPS = frozenset({"len", "list.index", "list.count", "find", "rfind", "count"})
ARITHMETIC_OPS = frozenset({"+", "-", "*", "//", "%", "neg", "abs", "max2", "min2"})


def ast_size(term) -> int:
    """The size of the printed expression, in AST nodes (a term's `size`
    is its cost in the search, which is less for an idiom or a concept the
    description names)."""
    own = getattr(term.op, "nodes", None)
    if own is None:
        own = term.size - sum(a.size for a in term.args if a is not None)
    return own + sum(ast_size(a) for a in term.args if a is not None)


def is_position(term) -> bool:
    """Can the int term stand for a position or a length: a variable or a
    literal, a length or a position found, or arithmetic of those (not an
    element's value, a sum or a maximum)?"""
    if term.pos is None:
        name = term.op.name
        term.pos = name == "leaf" or name in POSITION_OPS or (
            name in ARITHMETIC_OPS and all(is_position(a) for a in term.args))
    return term.pos


# ------------------------------------------------------------------ printing

def wrap(term, prec: int) -> str:
    """The term's text, parenthesised if it binds looser than `prec`."""
    return term.text if term.prec >= prec else f"({term.text})"


def as_sole_arg(term) -> str:
    """A term passed as a call's only argument: comprehensions print as
    generator expressions (`sum(x * x for x in xs)`)."""
    return term.gen if term.gen is not None else term.text


def str_literal(s: str) -> str:
    text = repr(s)
    if text.startswith("'") and '"' not in s:
        text = '"' + text[1:-1].replace("\\'", "'") + '"'
    return text


def literal(value: object) -> tuple[str, int]:
    """NPL source and precedence of a constant."""
    if isinstance(value, str):
        return str_literal(value), P_ATOM
    text = repr(value)
    return text, (P_UNARY if text.startswith("-") else P_ATOM)


def binary(sym: str, prec: int):
    return lambda a: (f"{wrap(a[0], prec)} {sym} {wrap(a[1], prec + 1)}", prec)


def compare(sym: str):
    return lambda a: (f"{wrap(a[0], P_CMP + 1)} {sym} {wrap(a[1], P_CMP + 1)}", P_CMP)


def call(name: str):
    return lambda a: (f"{name}({', '.join(wrap(x, P_TERNARY) for x in a)})", P_ATOM)


def call_iter(name: str, suffix: str = ""):
    if suffix:
        return lambda a: (f"{name}({a[0].text}{suffix})", P_ATOM)
    return lambda a: (f"{name}({as_sole_arg(a[0])})", P_ATOM)


def method(name: str):
    return lambda a: (
        f"{wrap(a[0], P_ATOM)}.{name}({', '.join(wrap(x, P_TERNARY) for x in a[1:])})",
        P_ATOM)


def render_join(a):
    return f"{wrap(a[0], P_ATOM)}.join({as_sole_arg(a[1])})", P_ATOM


def render_slice(lo: bool, hi: bool, step: bool = False):
    def render(a):
        parts = iter(a[1:])
        lo_text = wrap(next(parts), P_TERNARY) if lo else ""
        hi_text = wrap(next(parts), P_TERNARY) if hi else ""
        inner = f"{lo_text}:{hi_text}"
        if step:
            inner += ":" + wrap(next(parts), P_TERNARY)
        return f"{wrap(a[0], P_ATOM)}[{inner}]", P_ATOM
    return render


def render_index(a):
    return f"{wrap(a[0], P_ATOM)}[{wrap(a[1], P_TERNARY)}]", P_ATOM


def render_ternary(a):
    then, cond, other = a
    return (f"{wrap(then, P_OR)} if {wrap(cond, P_OR)} else {wrap(other, P_TERNARY)}",
            P_TERNARY)


# ------------------------------------------------------- guarded semantics

class Blowup(Exception):
    """A result past the size limits (the search's signal to drop a
    candidate; never leaves the synthesizer)."""


def repeat(seq, n):
    if n > 0 and len(seq) * n > LEN_LIMIT:
        raise Blowup
    return seq * n


def power(base, exp):
    if exp < 0 or exp > 64:
        raise Blowup
    return base ** exp


def width(n):
    if n > LEN_LIMIT:
        raise Blowup
    return n


def range_of(*bounds):
    r = range(*bounds)
    if len(r) > LEN_LIMIT:
        raise Blowup
    return tuple(r)


def and_vec(left, right):
    return [x if x is not True else y for x, y in zip(left, right)]


def or_vec(left, right):
    return [x if x is not False else y for x, y in zip(left, right)]


def ternary_vec(then, cond, other):
    return [t if c is True else (o if c is False else ERR)
            for t, c, o in zip(then, cond, other)]


# --------------------------------------------------------- type families

ORDERED = (INT, FLOAT, STR)


def elem_of(t: Type) -> Optional[Type]:
    """Element type of what a comprehension or an aggregate can walk."""
    if t == STR:
        return STR
    if isinstance(t, (ListT, IterT, SetT)):
        return t.elem
    return None


def lists_in(types) -> list[Type]:
    return [t for t in types if isinstance(t, ListT)]


def seqs_in(types) -> list[Type]:
    return lists_in(types) + ([STR] if STR in types else [])


def iterables_in(types, *, sets: bool = True, strings: bool = True) -> list[Type]:
    kinds = (ListT, IterT, SetT) if sets else (ListT, IterT)
    found = [t for t in types if isinstance(t, kinds)]
    return found + ([STR] if strings and STR in types else [])


def fixed(*sigs: Sig):
    return lambda types: [s for s in sigs if all(a in types for a in s.args)]


def num2(comm: bool, floats: bool, ints: bool = True) -> tuple[Sig, ...]:
    out = [Sig((INT, INT), INT, comm)] if ints else []
    if floats:
        out += [Sig((FLOAT, FLOAT), FLOAT, comm),
                Sig((INT, FLOAT), FLOAT), Sig((FLOAT, INT), FLOAT)]
    return tuple(out)


def over(kinds_fn, make: Callable[[Type, Type], Optional[Sig]]):
    """Signatures over every iterable-ish type `t` with element `e`."""
    def sigs(types):
        out = []
        for t in kinds_fn(types):
            sig = make(t, elem_of(t))
            if sig is not None:
                out.append(sig)
        return out
    return sigs

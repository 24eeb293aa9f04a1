"""The operator table of the example-driven synthesizer.

Takes the static types of a synthesis task (parameters and return type) and
gives back the list of `Op`s the enumerator may combine: NPL's operators,
built-in functions, `str`/`list`/`dict`/`set` methods, indexing and slicing
(SPEC sections 5 and 6). Each op knows

* its typed signatures (`Sig`), produced from the set of types the search has
  values of, so only type-correct NPL is ever built: `bool` is not a number,
  `/` gives `float`, `int` widens to `float` only in mixed arithmetic;
* how to compute it on Python values (NPL's semantics are Python's for every
  op here), guarded against results past the size limits;
* how to print it as NPL source, with parentheses only where precedence
  needs them.

`limits` caps the size of some arguments: separators, fill characters and
exponents are leaves (parameters, bound variables, constants), and the
receivers of `split`, `set(...)`, `reversed(...)` stay small. Programs
people write look like that, and the caps keep the banks from filling with
expressions nobody writes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from npl.lang.types import (
    BOOL, FLOAT, INT, NONE, STR, DictT, IterT, ListT, OptionalT, SetT, TupleT,
    Type, is_hashable,
)

from .synth_values import LEN_LIMIT

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

    def fits(self, sizes: tuple[int, ...]) -> bool:
        return all(not cap or size <= cap for size, cap in zip(sizes, self.limits))


LEAF = 1


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


def _binary(sym: str, prec: int):
    return lambda a: (f"{wrap(a[0], prec)} {sym} {wrap(a[1], prec + 1)}", prec)


def _compare(sym: str):
    return lambda a: (f"{wrap(a[0], P_CMP + 1)} {sym} {wrap(a[1], P_CMP + 1)}", P_CMP)


def _call(name: str):
    return lambda a: (f"{name}({', '.join(wrap(x, P_TERNARY) for x in a)})", P_ATOM)


def _call_iter(name: str, suffix: str = ""):
    if suffix:
        return lambda a: (f"{name}({a[0].text}{suffix})", P_ATOM)
    return lambda a: (f"{name}({as_sole_arg(a[0])})", P_ATOM)


def _method(name: str):
    return lambda a: (
        f"{wrap(a[0], P_ATOM)}.{name}({', '.join(wrap(x, P_TERNARY) for x in a[1:])})",
        P_ATOM)


def _render_join(a):
    return f"{wrap(a[0], P_ATOM)}.join({as_sole_arg(a[1])})", P_ATOM


def _render_slice(lo: bool, hi: bool, step: bool = False):
    def render(a):
        parts = iter(a[1:])
        lo_text = wrap(next(parts), P_TERNARY) if lo else ""
        hi_text = wrap(next(parts), P_TERNARY) if hi else ""
        inner = f"{lo_text}:{hi_text}"
        if step:
            inner += ":" + wrap(next(parts), P_TERNARY)
        return f"{wrap(a[0], P_ATOM)}[{inner}]", P_ATOM
    return render


def _render_index(a):
    return f"{wrap(a[0], P_ATOM)}[{wrap(a[1], P_TERNARY)}]", P_ATOM


def _render_ternary(a):
    then, cond, other = a
    return (f"{wrap(then, P_OR)} if {wrap(cond, P_OR)} else {wrap(other, P_TERNARY)}",
            P_TERNARY)


# ------------------------------------------------------- guarded semantics

class Blowup(Exception):
    """A result past the size limits."""


def _repeat(seq, n):
    if n > 0 and len(seq) * n > LEN_LIMIT:
        raise Blowup
    return seq * n


def _power(base, exp):
    if exp < 0 or exp > 64:
        raise Blowup
    return base ** exp


def _width(n):
    if n > LEN_LIMIT:
        raise Blowup
    return n


def _range(*bounds):
    r = range(*bounds)
    if len(r) > LEN_LIMIT:
        raise Blowup
    return tuple(r)


def _and_vec(left, right):
    return [x if x is not True else y for x, y in zip(left, right)]


def _or_vec(left, right):
    return [x if x is not False else y for x, y in zip(left, right)]


def _ternary_vec(then, cond, other):
    from .synth_values import ERR
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


def _lists(types) -> list[Type]:
    return [t for t in types if isinstance(t, ListT)]


def _seqs(types) -> list[Type]:
    return _lists(types) + ([STR] if STR in types else [])


def _iterables(types, *, sets: bool = True, strings: bool = True) -> list[Type]:
    kinds = (ListT, IterT, SetT) if sets else (ListT, IterT)
    found = [t for t in types if isinstance(t, kinds)]
    return found + ([STR] if strings and STR in types else [])


def _fixed(*sigs: Sig):
    return lambda types: [s for s in sigs if all(a in types for a in s.args)]


def _num2(comm: bool, floats: bool, ints: bool = True) -> tuple[Sig, ...]:
    out = [Sig((INT, INT), INT, comm)] if ints else []
    if floats:
        out += [Sig((FLOAT, FLOAT), FLOAT, comm),
                Sig((INT, FLOAT), FLOAT), Sig((FLOAT, INT), FLOAT)]
    return tuple(out)


def _over(kinds_fn, make: Callable[[Type, Type], Optional[Sig]]):
    """Signatures over every iterable-ish type `t` with element `e`."""
    def sigs(types):
        out = []
        for t in kinds_fn(types):
            sig = make(t, elem_of(t))
            if sig is not None:
                out.append(sig)
        return out
    return sigs


# ------------------------------------------------------------ op groups

def _string_methods() -> list[Op]:
    ops = []
    for name in ("lower", "upper", "strip", "title", "capitalize", "swapcase",
                 "lstrip", "rstrip"):
        ops.append(Op(name, 1, _fixed(Sig((STR,), STR)), _method(name),
                      fn=getattr(str, name), limits=(5,)))
    ops.append(Op("split", 1, _fixed(Sig((STR,), ListT(STR))), _method("split"),
                  fn=str.split, limits=(3,)))
    for name in ("isdigit", "isalpha", "isupper", "islower", "isspace", "isalnum"):
        ops.append(Op(name, 1, _fixed(Sig((STR,), BOOL)), _method(name),
                      fn=getattr(str, name), limits=(4,)))
    return ops


def _string_ops_with_args() -> list[Op]:
    ops = []
    leaf1 = (0, LEAF)
    ops.append(Op("split_sep", 2, _fixed(Sig((STR, STR), ListT(STR))),
                  _method("split"), fn=str.split, limits=(3, LEAF)))
    for name in ("startswith", "endswith"):
        ops.append(Op(name, 2, _fixed(Sig((STR, STR), BOOL)), _method(name),
                      fn=getattr(str, name), limits=leaf1))
    for name in ("find", "count", "rfind"):
        ops.append(Op(name, 2, _fixed(Sig((STR, STR), INT)), _method(name),
                      fn=getattr(str, name), limits=leaf1))
    ops.append(Op("replace", 3, _fixed(Sig((STR, STR, STR), STR)), _method("replace"),
                  fn=str.replace, limits=(0, LEAF, LEAF)))
    for name in ("strip", "lstrip", "rstrip"):
        ops.append(Op(name + "_chars", 2, _fixed(Sig((STR, STR), STR)), _method(name),
                      fn=getattr(str, name), limits=leaf1))
    for name in ("zfill", "center", "ljust", "rjust"):
        method = getattr(str, name)
        ops.append(Op(name, 2, _fixed(Sig((STR, INT), STR)), _method(name),
                      fn=lambda s, n, m=method: m(s, _width(n)), limits=leaf1))
    ops.append(Op("join", 2, _over(
        lambda types: _iterables(types, sets=False) if STR in types else [],
        lambda t, e: Sig((STR, t), STR) if e == STR else None),
        _render_join, fn=lambda sep, xs: sep.join(xs), limits=(LEAF,)))
    ops.append(Op("ord", 1, _fixed(Sig((STR,), INT)), _call("ord"), fn=ord))
    ops.append(Op("chr", 1, _fixed(Sig((INT,), STR)), _call("chr"), fn=chr))
    return ops


def _aggregate_ops(floats: bool) -> list[Op]:
    numeric = (INT, FLOAT) if floats else (INT,)
    ops = [
        Op("len", 1, lambda types: [Sig((t,), INT) for t in types if t == STR or
                                    isinstance(t, (ListT, SetT, DictT))],
           _call("len"), fn=len),
        Op("sum", 1, _over(lambda ts: _iterables(ts, strings=False),
                           lambda t, e: Sig((t,), e) if e in numeric else None),
           _call_iter("sum"), fn=sum),
    ]
    for name, fn in (("max", max), ("min", min)):
        ops.append(Op(name, 1, _over(
            _iterables, lambda t, e: Sig((t,), e) if e in ORDERED else None),
            _call_iter(name), fn=fn))
    ops += [
        Op("sorted", 1, _over(_iterables, lambda t, e: Sig((t,), ListT(e))
                              if e in ORDERED else None),
           _call_iter("sorted"), fn=sorted),
        Op("sorted_desc", 1, _over(_iterables, lambda t, e: Sig((t,), ListT(e))
                                   if e in ORDERED else None),
           _call_iter("sorted", ", reverse=True"),
           fn=lambda xs: sorted(xs, reverse=True), cost=2),
        Op("reversed", 1, lambda types: [Sig((t,), IterT(elem_of(t))) for t in _seqs(types)],
           _call("reversed"), fn=lambda xs: tuple(reversed(xs)), limits=(3,)),
        Op("list", 1, lambda types: [Sig((t,), ListT(elem_of(t))) for t in types
                                     if isinstance(t, IterT) or t == STR],
           _call_iter("list"), fn=list, limits=(3,)),
        Op("set", 1, _over(lambda ts: _iterables(ts, sets=False),
                           lambda t, e: Sig((t,), SetT(e)) if is_hashable(e) else None),
           _call_iter("set"), fn=set, limits=(3,)),
        Op("any", 1, _over(lambda ts: _iterables(ts, sets=False, strings=False),
                           lambda t, e: Sig((t,), BOOL) if e == BOOL else None),
           _call_iter("any"), fn=any),
        Op("all", 1, _over(lambda ts: _iterables(ts, sets=False, strings=False),
                           lambda t, e: Sig((t,), BOOL) if e == BOOL else None),
           _call_iter("all"), fn=all),
    ]
    return ops


def _number_ops(floats: bool) -> list[Op]:
    ops = [
        Op("+", 2, lambda types: [s for s in _num2(True, floats) + (Sig((STR, STR), STR),)
                                  if all(a in types for a in s.args)]
           + [Sig((t, t), t) for t in _lists(types)],
           _binary("+", P_ADD), fn=lambda a, b: a + b),
        Op("-", 2, lambda types: [s for s in _num2(False, floats) if all(a in types for a in s.args)]
           + [Sig((t, t), t) for t in types if isinstance(t, SetT)],
           _binary("-", P_ADD), fn=lambda a, b: a - b),
        Op("*", 2, _fixed(*_num2(True, floats)), _binary("*", P_MUL), fn=lambda a, b: a * b),
        Op("repeat", 2, lambda types: [Sig((t, INT), t) for t in _seqs(types)],
           _binary("*", P_MUL), fn=_repeat, limits=(0, LEAF)),
        Op("//", 2, _fixed(Sig((INT, INT), INT)), _binary("//", P_MUL), fn=lambda a, b: a // b),
        Op("%", 2, _fixed(Sig((INT, INT), INT)), _binary("%", P_MUL), fn=lambda a, b: a % b),
        Op("**", 2, _fixed(Sig((INT, INT), INT), Sig((FLOAT, INT), FLOAT)),
           lambda a: (f"{wrap(a[0], P_ATOM)} ** {wrap(a[1], P_UNARY)}", P_POW),
           fn=_power, limits=(0, LEAF)),
        Op("neg", 1, _fixed(Sig((INT,), INT), Sig((FLOAT,), FLOAT)),
           lambda a: (f"-{wrap(a[0], P_UNARY + 1)}", P_UNARY), fn=lambda a: -a),
        Op("abs", 1, _fixed(Sig((INT,), INT), Sig((FLOAT,), FLOAT)), _call("abs"), fn=abs),
        Op("max2", 2, _fixed(*_num2(True, floats, ints=True)[:2]), _call("max"), fn=max),
        Op("min2", 2, _fixed(*_num2(True, floats, ints=True)[:2]), _call("min"), fn=min),
        Op("str", 1, _fixed(Sig((INT,), STR), Sig((FLOAT,), STR)), _call("str"), fn=str),
        Op("int", 1, _fixed(Sig((STR,), INT), Sig((FLOAT,), INT)), _call("int"), fn=int),
        Op("range", 1, _fixed(Sig((INT,), IterT(INT))), _call("range"), fn=_range),
    ]
    if floats:
        ops += [
            Op("/", 2, _fixed(*_num2(False, True) + (Sig((INT, INT), FLOAT),)),
               _binary("/", P_MUL), fn=lambda a, b: a / b),
            Op("float", 1, _fixed(Sig((STR,), FLOAT)), _call("float"), fn=float),
            Op("round", 1, _fixed(Sig((FLOAT,), INT)), _call("round"), fn=round),
            Op("round_to", 2, _fixed(Sig((FLOAT, INT), FLOAT)), _call("round"),
               fn=round, limits=(0, LEAF)),
            Op("sqrt", 1, _fixed(Sig((FLOAT,), FLOAT), Sig((INT,), FLOAT)), _call("sqrt"),
               fn=math.sqrt),
        ]
    return ops


def _compare_ops(floats: bool) -> list[Op]:
    ordered = _num2(False, floats) + (Sig((STR, STR), BOOL),)
    ordered = tuple(Sig(s.args, BOOL) for s in ordered)
    equal = tuple(Sig(s.args, BOOL, s.args[0] == s.args[1]) for s in ordered)
    ops = []
    for sym, fn in ((">", lambda a, b: a > b), ("<", lambda a, b: a < b),
                    (">=", lambda a, b: a >= b), ("<=", lambda a, b: a <= b)):
        ops.append(Op(sym, 2, _fixed(*ordered), _compare(sym), fn=fn))
    ops.append(Op("==", 2, _fixed(*equal), _compare("=="), fn=lambda a, b: a == b))
    ops.append(Op("!=", 2, _fixed(*equal), _compare("!="), fn=lambda a, b: a != b))

    def membership(types):
        out = [Sig((STR, STR), BOOL)] if STR in types else []
        for t in types:
            if isinstance(t, (ListT, SetT)) and t.elem in types:
                out.append(Sig((t.elem, t), BOOL))
            elif isinstance(t, DictT) and t.key in types:
                out.append(Sig((t.key, t), BOOL))
        return out
    ops.append(Op("in", 2, membership, _compare("in"), fn=lambda a, b: a in b,
                  limits=(3,)))
    ops.append(Op("not in", 2, membership, _compare("not in"),
                  fn=lambda a, b: a not in b, limits=(3,)))
    return ops


def _logic_ops() -> list[Op]:
    both = _fixed(Sig((BOOL, BOOL), BOOL))
    return [
        Op("not", 1, _fixed(Sig((BOOL,), BOOL)),
           lambda a: (f"not {wrap(a[0], P_NOT)}", P_NOT), fn=lambda a: not a),
        Op("and", 2, both, _binary("and", P_AND), vec=_and_vec),
        Op("or", 2, both, _binary("or", P_OR), vec=_or_vec),
    ]


def _subscript_ops() -> list[Op]:
    def index_sigs(types):
        out = [Sig((t, INT), elem_of(t)) for t in _seqs(types)]
        return out + [Sig((t, t.key), t.value) for t in types if isinstance(t, DictT)]

    def seq_with_ints(n):
        return lambda types: [Sig((t,) + (INT,) * n, t) for t in _seqs(types)]
    return [
        Op("index", 2, index_sigs, _render_index, fn=lambda a, i: a[i], limits=(3,)),
        Op("slice_from", 2, seq_with_ints(1), _render_slice(True, False),
           fn=lambda a, i: a[i:], limits=(3,)),
        Op("slice_to", 2, seq_with_ints(1), _render_slice(False, True),
           fn=lambda a, j: a[:j], limits=(3,)),
        Op("slice_step", 2, seq_with_ints(1), _render_slice(False, False, step=True),
           fn=lambda a, k: a[::k], limits=(3, LEAF)),
        Op("slice", 3, seq_with_ints(2), _render_slice(True, True),
           fn=lambda a, i, j: a[i:j], limits=(3,)),
    ]


def _collection_ops() -> list[Op]:
    def list_elem_sigs(types):
        return [Sig((t, t.elem), INT) for t in _lists(types) if t.elem in types]

    def dict_sigs(make):
        return lambda types: [make(t) for t in types if isinstance(t, DictT)]
    leaf1 = (0, LEAF)
    return [
        Op("list.count", 2, list_elem_sigs, _method("count"),
           fn=lambda xs, v: xs.count(v), limits=leaf1),
        Op("list.index", 2, list_elem_sigs, _method("index"),
           fn=lambda xs, v: xs.index(v), limits=leaf1),
        Op("|", 2, lambda types: [Sig((t, t), t, True) for t in types if isinstance(t, SetT)],
           _binary("|", P_BOR), fn=lambda a, b: a | b),
        Op("&", 2, lambda types: [Sig((t, t), t, True) for t in types if isinstance(t, SetT)],
           _binary("&", P_BAND), fn=lambda a, b: a & b),
        Op("dict.get", 3, lambda types: [Sig((t, t.key, t.value), t.value) for t in types
                                         if isinstance(t, DictT)],
           _method("get"), fn=lambda d, k, v: d.get(k, v), limits=(0, 0, LEAF)),
        Op("dict.keys", 1, dict_sigs(lambda t: Sig((t,), IterT(t.key))), _method("keys"),
           fn=lambda d: tuple(d.keys())),
        Op("dict.values", 1, dict_sigs(lambda t: Sig((t,), IterT(t.value))),
           _method("values"), fn=lambda d: tuple(d.values())),
        Op("dict.items", 1, dict_sigs(lambda t: Sig((t,), IterT(TupleT((t.key, t.value))))),
           _method("items"), fn=lambda d: tuple(d.items())),
    ]


def _pairing_ops() -> list[Op]:
    """enumerate/zip: iterables of tuples that comprehensions unpack."""
    def zip_sigs(types):
        seqs = _seqs(types)
        return [Sig((a, b), IterT(TupleT((elem_of(a), elem_of(b))))) for a in seqs for b in seqs]
    return [
        Op("enumerate", 1, lambda types: [Sig((t,), IterT(TupleT((INT, elem_of(t)))))
                                          for t in _seqs(types)],
           _call("enumerate"), fn=lambda xs: tuple(enumerate(xs)), limits=(LEAF,)),
        Op("zip", 2, zip_sigs, _call("zip"), fn=lambda a, b: tuple(zip(a, b)),
           limits=(LEAF, LEAF)),
    ]


def _ternary_op(ret: Type) -> Op:
    def sigs(types):
        out = [Sig((t, BOOL, t), t) for t in types
               if not isinstance(t, IterT) and t != BOOL and t != NONE]
        if isinstance(ret, OptionalT) and ret.inner in types and NONE in types:
            out += [Sig((ret.inner, BOOL, NONE), ret), Sig((NONE, BOOL, ret.inner), ret)]
        return out
    return Op("ternary", 3, sigs, _render_ternary, vec=_ternary_vec)


def _tuple_ops(signature_types: Iterable[Type], ret: Type) -> list[Op]:
    ops = []
    for t in signature_types:
        if not isinstance(t, TupleT):
            continue
        for i, elem in enumerate(t.elems):
            ops.append(Op(f"tuple[{i}]", 1, _fixed(Sig((t,), elem)),
                          lambda a, i=i: (f"{wrap(a[0], P_ATOM)}[{i}]", P_ATOM),
                          fn=lambda v, i=i: v[i], cost=2))
    if isinstance(ret, TupleT) and 2 <= len(ret.elems) <= 3:
        ops.append(Op("tuple", len(ret.elems), _fixed(Sig(ret.elems, ret)),
                      lambda a: (f"({', '.join(wrap(x, P_TERNARY) for x in a)})", P_ATOM),
                      fn=lambda *vs: tuple(vs)))
    return ops


def build_ops(signature_types: Iterable[Type], ret: Type, *, floats: bool) -> list[Op]:
    """All ops for a task. Among programs of one size the earlier op wins,
    so structural ops (indexing, slicing) and plain methods come before
    arithmetic, and aggregates (min, max, sorted) last: `s.split("@")[1]`
    rather than an equally small `max(...)` that fits the examples by luck."""
    signature_types = list(signature_types)
    return (_subscript_ops() + _string_methods() + _number_ops(floats)
            + _compare_ops(floats) + _logic_ops() + _string_ops_with_args()
            + _aggregate_ops(floats) + _collection_ops() + _pairing_ops()
            + _tuple_ops(signature_types, ret) + [_ternary_op(ret)])

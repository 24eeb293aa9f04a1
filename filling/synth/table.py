"""The table of ops the synthesizer combines (docs/reference.md §5 and §6).

Takes the types in a task's signature, its return type and whether floats
are in play; gives back the ordered list of `Op`s (see synth/ops.py). Among
programs of one size the earlier op wins, so the order encodes what reads
most naturally: indexing and slicing, case methods, arithmetic, comparisons,
then string predicates, methods with arguments, aggregates, collections and
the conditional. A few ops are left out on purpose because on a handful of
examples they fit by accident far more often than by intent: ordering
comparisons of strings, `min`/`max`/`sum` over the characters of a string.
"""
from __future__ import annotations

import math
from typing import Iterable

from npl.lang.types import (
    BOOL, FLOAT, INT, NONE, STR, DictT, IterT, ListT, OptionalT, SetT, TupleT,
    Type, is_hashable,
)

from .ops import (
    ANY, CONST, LEAF, ORDERED, POS, P_AND, P_ATOM, P_BAND, P_BOR, P_NOT, P_OR, P_POW,
    P_ADD, P_MUL, P_TERNARY, P_UNARY, VAR, Op, Sig, and_vec, binary, call,
    call_iter, compare, elem_of, fixed, iterables_in, lists_in, method, num2,
    or_vec, over, power, range_of, render_index, render_join, render_slice,
    render_ternary, repeat, seqs_in, ternary_vec, width, wrap,
)

RECEIVER = 4          # largest receiver of indexing, slicing and case methods


def _subscript_ops() -> list[Op]:
    def index_sigs(types):
        out = [Sig((t, INT), elem_of(t)) for t in seqs_in(types)]
        return out + [Sig((t, t.key), t.value) for t in types if isinstance(t, DictT)]

    def seq_with_ints(n):
        return lambda types: [Sig((t,) + (INT,) * n, t) for t in seqs_in(types)]
    small = (RECEIVER,)
    at = (ANY, POS)
    return [
        Op("index", 2, index_sigs, render_index, fn=lambda a, i: a[i], limits=small, kinds=at),
        Op("slice_from", 2, seq_with_ints(1), render_slice(True, False),
           fn=lambda a, i: a[i:], limits=small, kinds=at),
        Op("slice_to", 2, seq_with_ints(1), render_slice(False, True),
           fn=lambda a, j: a[:j], limits=small, kinds=at),
        Op("slice_step", 2, seq_with_ints(1), render_slice(False, False, step=True),
           fn=lambda a, k: a[::k], limits=(3, LEAF)),
        Op("slice", 3, seq_with_ints(2), render_slice(True, True),
           fn=lambda a, i, j: a[i:j], limits=small, kinds=(ANY, POS, POS)),
    ]


def _case_methods() -> list[Op]:
    ops = [Op(name, 1, fixed(Sig((STR,), STR)), method(name), fn=getattr(str, name),
              limits=(RECEIVER + 1,))
           for name in ("lower", "upper", "strip", "title", "capitalize", "swapcase",
                        "lstrip", "rstrip")]
    ops.append(Op("split", 1, fixed(Sig((STR,), ListT(STR))), method("split"),
                  fn=str.split, limits=(3,)))
    return ops


def _number_ops(floats: bool) -> list[Op]:
    ops = [
        Op("+", 2, lambda types: [s for s in num2(True, floats) + (Sig((STR, STR), STR),)
                                  if all(a in types for a in s.args)]
           + [Sig((t, t), t) for t in lists_in(types)],
           binary("+", P_ADD), fn=lambda a, b: a + b),
        Op("-", 2, lambda types: [s for s in num2(False, floats) if all(a in types for a in s.args)]
           + [Sig((t, t), t) for t in types if isinstance(t, SetT)],
           binary("-", P_ADD), fn=lambda a, b: a - b),
        Op("*", 2, fixed(*num2(True, floats)), binary("*", P_MUL), fn=lambda a, b: a * b),
    ]
    if floats:
        ops.append(Op("/", 2, fixed(*num2(False, True) + (Sig((INT, INT), FLOAT),)),
                      binary("/", P_MUL), fn=lambda a, b: a / b))
    ops += [
        Op("repeat", 2, lambda types: [Sig((t, INT), t) for t in seqs_in(types)],
           binary("*", P_MUL), fn=repeat, limits=(0, LEAF)),
        Op("//", 2, fixed(Sig((INT, INT), INT)), binary("//", P_MUL), fn=lambda a, b: a // b),
        Op("%", 2, fixed(Sig((INT, INT), INT)), binary("%", P_MUL), fn=lambda a, b: a % b),
        Op("**", 2, fixed(Sig((INT, INT), INT), Sig((FLOAT, INT), FLOAT)),
           lambda a: (f"{wrap(a[0], P_ATOM)} ** {wrap(a[1], P_UNARY)}", P_POW),
           fn=power, limits=(0, LEAF), kinds=(ANY, CONST)),
        Op("neg", 1, fixed(Sig((INT,), INT), Sig((FLOAT,), FLOAT)),
           lambda a: (f"-{wrap(a[0], P_UNARY + 1)}", P_UNARY), fn=lambda a: -a),
        Op("abs", 1, fixed(Sig((INT,), INT), Sig((FLOAT,), FLOAT)), call("abs"), fn=abs),
        Op("max2", 2, fixed(*num2(True, floats)[:2]), call("max"), fn=max),
        Op("min2", 2, fixed(*num2(True, floats)[:2]), call("min"), fn=min),
        Op("str", 1, fixed(Sig((INT,), STR), Sig((FLOAT,), STR)), call("str"), fn=str),
        Op("int", 1, fixed(Sig((STR,), INT), Sig((FLOAT,), INT)), call("int"), fn=int),
        Op("range", 1, fixed(Sig((INT,), IterT(INT))), call("range"), fn=range_of),
    ]
    if floats:
        ops += [
            Op("float", 1, fixed(Sig((STR,), FLOAT)), call("float"), fn=float),
            Op("round", 1, fixed(Sig((FLOAT,), INT)), call("round"), fn=round),
            Op("round_to", 2, fixed(Sig((FLOAT, INT), FLOAT)), call("round"),
               fn=round, limits=(0, LEAF)),
            Op("sqrt", 1, fixed(Sig((FLOAT,), FLOAT), Sig((INT,), FLOAT)), call("sqrt"),
               fn=math.sqrt),
        ]
    return ops


def _compare_ops(floats: bool) -> list[Op]:
    ordered = tuple(Sig(s.args, BOOL) for s in num2(False, floats))
    equal = tuple(Sig(s.args, BOOL, s.args[0] == s.args[1])
                  for s in ordered + (Sig((STR, STR), BOOL),))
    def equality(types):          # numbers, strings and lists (`xs == sorted(xs)`)
        return fixed(*equal)(types) + [Sig((t, t), BOOL, True) for t in lists_in(types)]
    ops = [Op("==", 2, equality, compare("=="), fn=lambda a, b: a == b),
           Op("!=", 2, equality, compare("!="), fn=lambda a, b: a != b)]
    var_first = (VAR, ANY)        # `x > 0`, never its mirror `0 < x`
    ops += [Op(sym, 2, fixed(*ordered), compare(sym), fn=fn, kinds=var_first)
            for sym, fn in ((">", lambda a, b: a > b), ("<", lambda a, b: a < b),
                            (">=", lambda a, b: a >= b), ("<=", lambda a, b: a <= b))]

    def membership(types):
        out = [Sig((STR, STR), BOOL)] if STR in types else []
        for t in types:
            if isinstance(t, (ListT, SetT)) and t.elem in types:
                out.append(Sig((t.elem, t), BOOL))
            elif isinstance(t, DictT) and t.key in types:
                out.append(Sig((t.key, t), BOOL))
        return out
    ops.append(Op("in", 2, membership, compare("in"), fn=lambda a, b: a in b, limits=(3,)))
    ops.append(Op("not in", 2, membership, compare("not in"),
                  fn=lambda a, b: a not in b, limits=(3,)))
    return ops


def _logic_ops() -> list[Op]:
    both = fixed(Sig((BOOL, BOOL), BOOL))
    return [
        Op("not", 1, fixed(Sig((BOOL,), BOOL)),
           lambda a: (f"not {wrap(a[0], P_NOT)}", P_NOT), fn=lambda a: not a),
        Op("and", 2, both, binary("and", P_AND), vec=and_vec),
        Op("or", 2, both, binary("or", P_OR), vec=or_vec),
    ]


def _string_predicates() -> list[Op]:
    return [Op(name, 1, fixed(Sig((STR,), BOOL)), method(name), fn=getattr(str, name),
               limits=(RECEIVER,))
            for name in ("isdigit", "isalpha", "isupper", "islower", "isspace", "isalnum")]


def _string_ops_with_args() -> list[Op]:
    on_var = (VAR, ANY)
    ops = [Op("split_sep", 2, fixed(Sig((STR, STR), ListT(STR))), method("split"),
              fn=str.split, limits=(3, LEAF), kinds=on_var)]
    ops += [Op(name, 2, fixed(Sig((STR, STR), BOOL)), method(name), fn=getattr(str, name),
               limits=(0, LEAF), kinds=on_var)
            for name in ("startswith", "endswith")]
    ops += [Op(name, 2, fixed(Sig((STR, STR), INT)), method(name), fn=getattr(str, name),
               limits=(0, LEAF))
            for name in ("find", "count", "rfind")]
    ops.append(Op("replace", 3, fixed(Sig((STR, STR, STR), STR)), method("replace"),
                  fn=str.replace, limits=(0, LEAF, LEAF), kinds=(VAR, ANY, ANY)))
    ops += [Op(name + "_chars", 2, fixed(Sig((STR, STR), STR)), method(name),
               fn=getattr(str, name), limits=(0, LEAF), kinds=(VAR, CONST))
            for name in ("strip", "lstrip", "rstrip")]
    ops += [Op(name, 2, fixed(Sig((STR, INT), STR)), method(name),
               fn=lambda s, n, m=getattr(str, name): m(s, width(n)),
               limits=(0, LEAF), kinds=on_var)
            for name in ("zfill", "center", "ljust", "rjust")]
    ops.append(Op("join", 2, over(
        lambda types: iterables_in(types, sets=False) if STR in types else [],
        lambda t, e: Sig((STR, t), STR) if e == STR else None),
        render_join, fn=lambda sep, xs: sep.join(xs), limits=(LEAF,)))
    ops.append(Op("ord", 1, fixed(Sig((STR,), INT)), call("ord"), fn=ord))
    ops.append(Op("chr", 1, fixed(Sig((INT,), STR)), call("chr"), fn=chr))
    return ops


def _aggregate_ops(floats: bool) -> list[Op]:
    numeric = (INT, FLOAT) if floats else (INT,)
    walkable = lambda types: iterables_in(types, strings=False)   # noqa: E731
    ops = [
        Op("len", 1, lambda types: [Sig((t,), INT) for t in types if t == STR or
                                    isinstance(t, (ListT, SetT, DictT))],
           call("len"), fn=len),
        Op("sum", 1, over(walkable, lambda t, e: Sig((t,), e) if e in numeric else None),
           call_iter("sum"), fn=sum),
    ]
    ops += [Op(name, 1, over(walkable, lambda t, e: Sig((t,), e) if e in ORDERED else None),
               call_iter(name), fn=fn)
            for name, fn in (("max", max), ("min", min))]
    sortable = over(iterables_in, lambda t, e: Sig((t,), ListT(e)) if e in ORDERED else None)
    ops += [
        Op("sorted", 1, sortable, call_iter("sorted"), fn=sorted),
        Op("sorted_desc", 1, sortable, call_iter("sorted", ", reverse=True"),
           fn=lambda xs: sorted(xs, reverse=True), cost=2),
        Op("reversed", 1, lambda types: [Sig((t,), IterT(elem_of(t))) for t in seqs_in(types)],
           call("reversed"), fn=lambda xs: tuple(reversed(xs)), limits=(3,)),
        Op("list", 1, lambda types: [Sig((t,), ListT(elem_of(t))) for t in types
                                     if isinstance(t, IterT) or t == STR],
           call_iter("list"), fn=list, limits=(3,)),
        Op("set", 1, over(lambda ts: iterables_in(ts, sets=False),
                          lambda t, e: Sig((t,), SetT(e)) if is_hashable(e) else None),
           call_iter("set"), fn=set, limits=(3,)),
    ]
    bools = over(lambda ts: iterables_in(ts, sets=False, strings=False),
                 lambda t, e: Sig((t,), BOOL) if e == BOOL else None)
    ops += [Op("any", 1, bools, call_iter("any"), fn=any),
            Op("all", 1, bools, call_iter("all"), fn=all)]
    return ops


def _collection_ops() -> list[Op]:
    def list_elem_sigs(types):
        return [Sig((t, t.elem), INT) for t in lists_in(types) if t.elem in types]

    def dict_sigs(make):
        return lambda types: [make(t) for t in types if isinstance(t, DictT)]

    def set_sigs(types):
        return [Sig((t, t), t, True) for t in types if isinstance(t, SetT)]
    return [
        Op("list.count", 2, list_elem_sigs, method("count"),
           fn=lambda xs, v: xs.count(v), limits=(0, LEAF)),
        Op("list.index", 2, list_elem_sigs, method("index"),
           fn=lambda xs, v: xs.index(v), limits=(0, LEAF)),
        Op("|", 2, set_sigs, binary("|", P_BOR), fn=lambda a, b: a | b),
        Op("&", 2, set_sigs, binary("&", P_BAND), fn=lambda a, b: a & b),
        Op("dict.get", 3, lambda types: [Sig((t, t.key, t.value), t.value) for t in types
                                         if isinstance(t, DictT)],
           method("get"), fn=lambda d, k, v: d.get(k, v), limits=(0, 0, LEAF)),
        Op("dict.keys", 1, dict_sigs(lambda t: Sig((t,), IterT(t.key))), method("keys"),
           fn=lambda d: tuple(d.keys())),
        Op("dict.values", 1, dict_sigs(lambda t: Sig((t,), IterT(t.value))),
           method("values"), fn=lambda d: tuple(d.values())),
        Op("dict.items", 1, dict_sigs(lambda t: Sig((t,), IterT(TupleT((t.key, t.value))))),
           method("items"), fn=lambda d: tuple(d.items())),
    ]


def _pairing_ops() -> list[Op]:
    """enumerate/zip: iterables of tuples that comprehensions unpack."""
    def zip_sigs(types):
        seqs = seqs_in(types)
        return [Sig((a, b), IterT(TupleT((elem_of(a), elem_of(b))))) for a in seqs for b in seqs]
    return [
        Op("enumerate", 1, lambda types: [Sig((t,), IterT(TupleT((INT, elem_of(t)))))
                                          for t in seqs_in(types)],
           call("enumerate"), fn=lambda xs: tuple(enumerate(xs)), limits=(LEAF,)),
        Op("zip", 2, zip_sigs, call("zip"), fn=lambda a, b: tuple(zip(a, b)),
           limits=(LEAF, LEAF)),
        # each element with the next, an idiom priced like `enumerate(xs)`
        Op("neighbours", 1, lambda types: [Sig((t,), IterT(TupleT((t.elem,) * 2)))
                                           for t in lists_in(types)],
           lambda a: (f"zip({a[0].text}, {a[0].text}[1:])", P_ATOM),
           fn=lambda xs: tuple(zip(xs, xs[1:])), limits=(LEAF,), kinds=(VAR,), nodes=4),
    ]


def _ternary_op(ret: Type) -> Op:
    def sigs(types):
        out = [Sig((t, BOOL, t), t) for t in types
               if not isinstance(t, IterT) and t != BOOL and t != NONE]
        if isinstance(ret, OptionalT) and ret.inner in types and NONE in types:
            out += [Sig((ret.inner, BOOL, NONE), ret), Sig((NONE, BOOL, ret.inner), ret)]
        return out
    return Op("ternary", 3, sigs, render_ternary, vec=ternary_vec)


def _tuple_ops(signature_types: Iterable[Type], ret: Type) -> list[Op]:
    ops = []
    for t in signature_types:
        if not isinstance(t, TupleT):
            continue
        for i, elem in enumerate(t.elems):
            ops.append(Op(f"tuple[{i}]", 1, fixed(Sig((t,), elem)),
                          lambda a, i=i: (f"{wrap(a[0], P_ATOM)}[{i}]", P_ATOM),
                          fn=lambda v, i=i: v[i], cost=2))
    if isinstance(ret, TupleT) and 2 <= len(ret.elems) <= 3:
        ops.append(Op("tuple", len(ret.elems), fixed(Sig(ret.elems, ret)),
                      lambda a: (f"({', '.join(wrap(x, P_TERNARY) for x in a)})", P_ATOM),
                      fn=lambda *vs: tuple(vs)))
    return ops


def build_ops(signature_types: Iterable[Type], ret: Type, *, floats: bool) -> list[Op]:
    """All ops for a task, in tie-breaking order."""
    return (_subscript_ops() + _case_methods() + _number_ops(floats)
            + _compare_ops(floats) + _logic_ops() + _string_predicates()
            + _string_ops_with_args() + _aggregate_ops(floats) + _collection_ops()
            + _pairing_ops() + _tuple_ops(sorted(signature_types, key=str), ret)
            + [_ternary_op(ret)])

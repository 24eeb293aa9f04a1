"""Binding forms for the synthesizer: comprehensions and key functions.

Takes an `Enumerator` (its bank of terms) and, at each size, gives it new
terms of the forms

    [E for x in xs]          [E for x in xs if P]       (also as generators:
    max(xs, key=lambda x: E) min(...)  sorted(...)       sum(E for x in xs))

`xs` is a small term of the enclosing bank (a parameter, `s.split()`,
`zip(xs, ys)`, ...). Each such iterable gets a `Walk`: a nested
`Enumerator` whose evaluation points are all of its elements over all
examples, with the element bound to a fresh variable (or unpacked into
several) and the enclosing variables repeated per element. The bodies `E`
and filters `P` come from that nested bank, with its own observational
equivalence over the element vector, and the form's value per example is
put back together from the element segments.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Optional

from npl.lang.types import BOOL, STR, IterT, ListT, PrimT, TupleT, Type

from .enum import Context, Enumerator, Leaf, Term
from .ops import ORDERED, P_ATOM, P_OR, P_TERNARY, elem_of, wrap
from .values import ERR, freeze

COMP_COST = 1          # the comprehension node
KEY_COST = 2           # the call and the lambda


class CompForm:
    """Op of `[body for binder in iterable if pred]`."""
    name = "comprehension"

    def __init__(self, binder: tuple[str, ...]):
        self.binder = binder

    def render(self, args) -> tuple[str, int]:
        return f"[{self.render_gen(args)}]", P_ATOM

    def render_gen(self, args) -> str:
        iterable, body, pred = args
        text = f"{wrap(body, P_TERNARY)} for {', '.join(self.binder)} in {wrap(iterable, P_OR)}"
        return text + (f" if {wrap(pred, P_OR)}" if pred is not None else "")


class KeyForm:
    """Op of `func(iterable, key=lambda x: body)`."""

    def __init__(self, func: str, binder: str):
        self.name = f"{func}_key"
        self.func, self.binder = func, binder

    def render(self, args) -> tuple[str, int]:
        iterable, body = args
        return (f"{self.func}({wrap(iterable, P_TERNARY)}, "
                f"key=lambda {self.binder}: {wrap(body, P_TERNARY)})", P_ATOM)


@dataclass
class Walk:
    """An iterable term and the enumerator over its elements: element j (of
    all examples' elements, in order) is point j of `sub`, or point
    `order[j]` when `sub` is shared with a walk over the same elements in
    another order (`s` and `sorted(s)`). `segments[e]` is the range of
    elements of example e (None where the iterable itself failed)."""
    iterable: Term
    binder: tuple[str, ...]
    elem_type: Type
    elements: list
    segments: list[Optional[tuple[int, int]]]
    sub: Enumerator
    order: Optional[list[int]] = None
    useful_preds: dict[int, list[Term]] = field(default_factory=dict)

    def values(self, term: Optional[Term]) -> Optional[list]:
        """A body or filter term's values, element by element."""
        if term is None or self.order is None:
            return None if term is None else term.vals
        vals = term.vals
        return [vals[i] for i in self.order]

    def is_identity(self, body: Term) -> bool:
        return (len(self.binder) == 1 and isinstance(body.op, Leaf)
                and body.text == self.binder[0])

    def preds(self, size: int) -> list[Term]:
        """Filters of this size that drop at least one element somewhere
        (a filter that keeps everything only makes the program longer)."""
        if size not in self.useful_preds:
            self.useful_preds[size] = [
                p for p in self.sub.bank.get(BOOL, size)
                if any(v is not True for v in p.vals)]
        return self.useful_preds[size]


class FormBuilder:
    """The walks of one enumerator and the form terms built from them."""

    def __init__(self, owner: Enumerator):
        self.owner = owner
        self.walks: list[Walk] = []
        self._looked_at: set[int] = set()
        self._by_elements: dict[tuple, Walk] = {}     # same elements, same order
        self._by_multiset: dict[tuple, Walk] = {}     # same elements per example

    def grow(self, size: int) -> None:
        self._discover(size)
        for walk in self.walks:
            budget = size - COMP_COST - walk.iterable.size
            if budget < 1:
                continue
            walk.sub.ensure(budget)
            self._comprehensions(walk, size, budget)
            if budget - 1 >= 1 and len(walk.binder) == 1 and isinstance(walk.iterable.type, ListT):
                self._key_forms(walk, size, budget - (KEY_COST - COMP_COST))

    # ------------------------------------------------------------ iterables

    def _discover(self, size: int) -> None:
        space = self.owner.space
        limit = min(space.iter_max_size, size - 2)
        for k in range(1, limit + 1):
            for typ in sorted(self.owner.bank.types(), key=_pairs_first):
                for term in self.owner.bank.get(typ, k):
                    if len(self.walks) >= space.max_iterables:
                        return
                    if (term.idx in self._looked_at or not term.varying
                            or not self._walkable(term)):
                        continue
                    self._looked_at.add(term.idx)
                    walk = self._make_walk(term)
                    if walk is not None:
                        self.walks.append(walk)

    def _walkable(self, term: Term) -> bool:
        """Comprehensions walk lists and iterators that differ between
        examples, strings that are variables and `str(n)` of a variable;
        the characters of other computed strings are rarely wanted."""
        if _same_everywhere(term.vals):
            return False                  # walking one fixed list: nothing to learn
        if isinstance(term.type, (ListT, IterT)):
            return True
        if term.type != STR:
            return False
        if getattr(term.op, "name", "") == "str":          # the digits of a number
            term = term.args[0]
        variables = {name for name, _, _ in self.owner.ctx.variables}
        return isinstance(term.op, Leaf) and term.text in variables

    def _make_walk(self, term: Term) -> Optional[Walk]:
        elem = elem_of(term.type)
        if isinstance(elem, TupleT) and not all(isinstance(t, PrimT) for t in elem.elems):
            return None
        segments, elements, owners = [], [], []
        for example, value in enumerate(term.vals):
            if value is ERR:
                segments.append(None)
                continue
            start = len(elements)
            elements.extend(value)
            owners.extend([example] * len(value))
            segments.append((start, len(elements)))
        if not elements or len(elements) > self.owner.space.point_limit:
            return None
        frozen = [freeze(e) for e in elements]
        in_order = (elem,) + tuple(None if seg is None else tuple(frozen[seg[0]:seg[1]])
                                   for seg in segments)
        if in_order in self._by_elements:
            return None
        as_multiset = (elem,) + tuple(
            None if seg is None else frozenset(Counter(frozen[seg[0]:seg[1]]).items())
            for seg in segments)
        twin = self._by_multiset.get(as_multiset)
        if twin is not None:
            walk = Walk(term, twin.binder, elem, elements, segments, twin.sub,
                        _reorder(frozen, segments, twin))
        else:
            walk = self._fresh_walk(term, elem, elements, segments, owners)
            self._by_multiset[as_multiset] = walk
        self._by_elements[in_order] = walk
        return walk

    def _fresh_walk(self, term: Term, elem: Type, elements: list, segments: list,
                    owners: list[int]) -> Walk:
        taken = {name for name, _, _ in self.owner.ctx.variables}
        binder = binder_names(term, elem, taken)
        if isinstance(elem, TupleT):
            bound = [(name, t, [e[i] for e in elements])
                     for i, (name, t) in enumerate(zip(binder, elem.elems))]
        else:
            bound = [(binder[0], elem, elements)]
        outer = [(name, t, [vals[o] for o in owners])
                 for name, t, vals in self.owner.ctx.variables]
        ctx = Context(len(elements), bound + outer)
        sub = Enumerator(self.owner.space, ctx, self.owner.depth + 1)
        return Walk(term, binder, elem, elements, segments, sub)

    # ---------------------------------------------------------------- forms

    def _comprehensions(self, walk: Walk, size: int, budget: int) -> None:
        op = CompForm(walk.binder)
        allowed = self.owner.space.allowed
        for body_size in range(1, budget + 1):
            pred_size = budget - body_size
            preds = [(p, walk.values(p)) for p in walk.preds(pred_size)] if pred_size else [
                (None, None)]
            if not preds:
                continue
            for body_type in walk.sub.bank.types():
                result = ListT(body_type)
                if isinstance(body_type, IterT) or not allowed(result):
                    continue
                for body in walk.sub.bank.get(body_type, body_size):
                    if pred_size == 0 and walk.is_identity(body):
                        continue
                    body_vals = walk.values(body)
                    for pred, pred_vals in preds:
                        vals = comprehension_values(walk.segments, body_vals, pred_vals)
                        self.owner.offer(op, (walk.iterable, body, pred), result, size, vals)

    def _key_forms(self, walk: Walk, size: int, body_size: int) -> None:
        for func in ("max", "min", "sorted"):
            op = KeyForm(func, walk.binder[0])
            result = ListT(walk.elem_type) if func == "sorted" else walk.elem_type
            for key_type in ORDERED:
                for body in walk.sub.bank.get(key_type, body_size):
                    if walk.is_identity(body):
                        continue
                    vals = _keyed_values(func, walk, walk.values(body))
                    self.owner.offer(op, (walk.iterable, body), result, size, vals)


def _pairs_first(typ: Type) -> int:
    """zip/enumerate iterables get walks before others of their size."""
    return 0 if isinstance(elem_of(typ), TupleT) else 1


def _same_everywhere(vals: list) -> bool:
    first = freeze(vals[0])
    return len(vals) > 1 and all(freeze(v) == first for v in vals[1:])


def _reorder(frozen: list, segments: list, twin: Walk) -> list[int]:
    """For each element, the point of `twin.sub` holding an equal element
    of the same example (equal elements matched in order)."""
    twin_frozen = [freeze(e) for e in twin.elements]
    order = []
    for seg, twin_seg in zip(segments, twin.segments):
        if seg is None:
            continue
        slots: dict = {}
        for i in range(*twin_seg):
            slots.setdefault(twin_frozen[i], deque()).append(
                twin.order[i] if twin.order is not None else i)
        order.extend(slots[frozen[j]].popleft() for j in range(*seg))
    return order


def comprehension_values(segments, body_vals: list, pred_vals: Optional[list]) -> list:
    out = []
    for segment in segments:
        if segment is None:
            out.append(ERR)
            continue
        lo, hi = segment
        if pred_vals is None:
            part = body_vals[lo:hi]
            out.append(ERR if any(v is ERR for v in part) else part)
            continue
        kept = []
        for j in range(lo, hi):
            keep = pred_vals[j]
            if keep is ERR or (keep and body_vals[j] is ERR):
                kept = ERR
                break
            if keep:
                kept.append(body_vals[j])
        out.append(kept)
    return out


def _keyed_values(func: str, walk: Walk, key_vals: list) -> list:
    out = []
    for segment in walk.segments:
        if segment is None:
            out.append(ERR)
            continue
        lo, hi = segment
        keys = key_vals[lo:hi]
        if any(k is ERR for k in keys) or (func != "sorted" and hi == lo):
            out.append(ERR)
            continue
        order = range(hi - lo)
        if func == "sorted":
            out.append([walk.elements[lo + i] for i in sorted(order, key=keys.__getitem__)])
        else:
            pick = max if func == "max" else min
            out.append(walk.elements[lo + pick(order, key=keys.__getitem__)])
    return out


# ----------------------------------------------------------------- naming

_FALLBACK_NAMES = ("x", "y", "z", "v", "w", "c", "e", "t", "u")


def binder_names(term: Term, elem: Type, taken: set[str]) -> tuple[str, ...]:
    """Readable, unused names for the variables a comprehension binds."""
    wanted = _wanted_names(term, elem)
    chosen: list[str] = []
    for name in wanted:
        candidates = [name] + list(_FALLBACK_NAMES) + [f"{name}{i}" for i in range(2, 9)]
        for candidate in candidates:
            if candidate not in taken and candidate not in chosen:
                chosen.append(candidate)
                break
    return tuple(chosen)


def _wanted_names(term: Term, elem: Type) -> tuple[str, ...]:
    op_name = getattr(term.op, "name", "")
    if op_name == "enumerate":
        return ("i",) + _wanted_names(term.args[0], elem_of(term.args[0].type))[:1]
    if op_name == "zip":
        return tuple(_wanted_names(a, elem_of(a.type))[0] for a in term.args)
    if op_name == "dict.items":
        return ("k", "v")
    if op_name == "neighbours":
        return ("a", "b")
    if isinstance(term.op, Leaf):
        single = _singular(term.text)
        if single:
            return (single,)
    if op_name in ("split", "split_sep"):
        return ("w",)
    if term.type == STR:
        return ("c",)
    if elem == STR:
        return ("w",)
    return ("x",)


def _singular(name: str) -> Optional[str]:
    if len(name) > 1 and name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return None

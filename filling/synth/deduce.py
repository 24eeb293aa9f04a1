"""Goal-directed deduction on top of the bottom-up banks.

Takes the top-level `Enumerator` (its bank of terms, its comprehension
walks) and the `Goal`; after each completed size level gives back the
smallest program it can assemble, from terms already in the banks, in one
of the shapes that plain enumeration would reach only much later:

* concatenation `a + b + c ...` of string terms, found as a shortest path
  over positions in the expected outputs, FlashFill style (every atom's
  value must be the next piece of every example's output);
* a tuple `(a, b)` of the smallest term for each component;
* conditional `a if c else b`: two terms that together are right on every
  example and a condition that tells their examples apart (EUSolver's
  unification step, for two branches), each branch taken by at least two
  examples;
* a consumer applied to a comprehension: `[E for x in xs]`,
  `[x for x in xs if P]`, `SEP.join(...)`, `sum`, `max`, `min`, `any`,
  `all` of `E for x in xs`, and `len([x for x in xs if P])`, where the
  body bank of the walk over `xs` is grown one level ahead.

Deduced programs can be larger than the current level, so they wait in a
queue, smallest first, and the caller takes each once the enumeration has
shown that nothing smaller exists (or the time is up).
"""
from __future__ import annotations

import heapq
import itertools
from typing import Callable, Iterator, Optional

from npl.lang.types import BOOL, FLOAT, INT, NONE, STR, IterT, ListT, OptionalT, TupleT, Type

from .enum import Enumerator, Goal, Leaf, Term, value_key
from .forms import COMP_COST, CompForm, Walk, comprehension_values
from .ops import P_ADD, wrap
from .values import ERR, same_value

MAX_DEDUCE_ITER_SIZE = 2     # walks whose bodies are grown ahead of the level
                             # (and walks over zip/enumerate pairs)
MAX_CONDITIONAL_EXAMPLES = 10
MIN_PER_BRANCH = 2
MIN_CONDITIONAL_EXAMPLES = 2 * MIN_PER_BRANCH
GROWTH = 4                   # a level costs about this many times the one before
MAX_BRANCH_SIZE = 6          # larger branches or conditions fit examples by accident


class Concat:
    """Op of a chain `a + b + c` of string terms."""
    name = "concat"

    def render(self, args) -> tuple[str, int]:
        first, rest = args[0], args[1:]
        parts = [wrap(first, P_ADD)] + [wrap(a, P_ADD + 1) for a in rest]
        return " + ".join(parts), P_ADD


class Deducer:
    def __init__(self, search: Enumerator, goal: Goal, verify: Callable[[Term], bool]):
        self.search, self.goal, self.verify = search, goal, verify
        self.ops = {op.name: op for op in search.space.ops}
        self._checked: dict[int, int] = {}          # walk id -> body sizes checked
        self._masks: dict[int, int] = {}            # term idx -> examples it is right on
        self._growth_seconds: dict[int, float] = {}  # sub-enumerator id -> last level's time
        self._walk_level = 0
        self._pending: list[tuple[int, int, Term]] = []   # (size, arrival, program)
        self._arrivals = itertools.count()
        self._queued: set[str] = set()

    def run(self, level: int) -> None:
        """Look for deduced programs with the banks as they are after
        `level`; they join the queue."""
        if self.goal.ret == STR:
            self._consider(self._concatenation())
        if isinstance(self.goal.ret, TupleT) and "tuple" in self.ops:
            self._consider(self._tuple())
        self._consider(self._conditional())
        self._grow_walks(level - 1)

    def take(self, max_size: int) -> Iterator[Term]:
        """The queued programs of at most `max_size`, smallest first (in
        the order they were found among equals), each once."""
        while self._pending and self._pending[0][0] <= max_size:
            yield heapq.heappop(self._pending)[2]

    def deepen(self) -> bool:
        """Grow the comprehension bodies one level further (used when the
        next top level is out of reach). False when no walk can grow."""
        return self._grow_walks(self._walk_level + 1)

    def _grow_walks(self, target: int) -> bool:
        """Grow walk bodies to `target`, cheapest walks first, skipping a
        walk whose last growth suggests it would not finish in time."""
        self._walk_level = max(self._walk_level, target)
        grew = False
        for walk in sorted(self._deduce_walks(), key=lambda w: w.sub.ctx.points * w.sub.bank.size):
            while walk.sub.level < target:
                clock = self.search.space.clock
                guess = GROWTH * self._growth_seconds.get(id(walk.sub), 0.0)
                if guess > clock.remaining():
                    break
                started = clock.now()
                walk.sub.ensure(walk.sub.level + 1)
                self._growth_seconds[id(walk.sub)] = clock.now() - started
                grew = True
            self._consumers(walk)
        return grew

    def _deduce_walks(self) -> list[Walk]:
        if self.search.forms is None:
            return []
        return [w for w in self.search.forms.walks
                if w.iterable.size <= MAX_DEDUCE_ITER_SIZE or isinstance(w.elem_type, TupleT)]

    def _consider(self, term: Optional[Term]) -> None:
        if term is None or term.text in self._queued:
            return
        self._queued.add(term.text)
        if self.verify(term):
            heapq.heappush(self._pending, (term.size, next(self._arrivals), term))

    def _tick(self) -> None:
        self.search.space.clock.tick()

    # --------------------------------------------------------- concatenation

    def _concatenation(self) -> Optional[Term]:
        outs = self.goal.expected
        atoms = [t for t in self._terms_of(STR)
                 if all(v is not ERR and v in out for v, out in zip(t.vals, outs))]
        start, end = (0,) * len(outs), tuple(len(o) for o in outs)
        queue = [(0, 0, start, ())]
        done: set[tuple] = set()
        tie = 0
        while queue:
            cost, _, position, path = heapq.heappop(queue)
            if position == end:
                return Term(Concat(), path, STR, cost, list(outs)) if len(path) > 1 else None
            if position in done:
                continue
            done.add(position)
            for atom in atoms:
                self._tick()
                step = _advance(position, atom.vals, outs)
                if step is not None and step not in done:
                    tie += 1
                    extra = atom.size + (1 if path else 0)
                    heapq.heappush(queue, (cost + extra, tie, step, path + (atom,)))
        return None

    # ----------------------------------------------------------- conditional

    def _conditional(self) -> Optional[Term]:
        n = len(self.goal.expected)
        if not MIN_CONDITIONAL_EXAMPLES <= n <= MAX_CONDITIONAL_EXAMPLES:
            return None
        full = (1 << n) - 1
        by_mask: dict[tuple[Type, int], Term] = {}
        for typ in sorted(self.goal.accepts, key=str):
            for term in self._terms_of(typ, MAX_BRANCH_SIZE):
                mask = self._mask(term)
                if mask and mask != full and (typ, mask) not in by_mask:
                    by_mask[(typ, mask)] = term
        conditions = [t for t in self._terms_of(BOOL, MAX_BRANCH_SIZE) if ERR not in t.vals]
        best = None
        for (type_a, mask_a), then in by_mask.items():
            for (type_b, mask_b), other in by_mask.items():
                if mask_a | mask_b != full or not _branch_types_fit(type_a, type_b, self.goal.ret):
                    continue
                cond = self._separator(conditions, full & ~mask_b, full & ~mask_a)
                if cond is None:
                    continue
                size = 1 + then.size + other.size + cond.size
                if best is None or size < best.size:
                    best = Term(self.ops["ternary"], (then, cond, other), self.goal.ret,
                                size, list(self.goal.expected))
        return best

    def _mask(self, term: Term) -> int:
        """Bit i set where the term is right on example i."""
        if term.idx in self._masks:
            return self._masks[term.idx]
        mask = 0
        for i, (v, e) in enumerate(zip(term.vals, self.goal.expected)):
            if same_value(v, e):
                mask |= 1 << i
        self._masks[term.idx] = mask
        return mask

    def _separator(self, conditions: list[Term], true_on: int, false_on: int) -> Optional[Term]:
        """The smallest condition true on `true_on`, false on `false_on`,
        that sends at least MIN_PER_BRANCH examples each way (a branch
        only one example asks for is a guess, not a pattern)."""
        for cond in conditions:           # bank order: smallest first
            self._tick()
            ok = all((not (true_on >> i) & 1 or v is True) and (not (false_on >> i) & 1 or v is False)
                     for i, v in enumerate(cond.vals))
            if ok and min(cond.vals.count(True), cond.vals.count(False)) >= MIN_PER_BRANCH:
                return cond
        return None

    # --------------------------------------------------------------- tuples

    def _tuple(self) -> Optional[Term]:
        """`(a, b)`: the smallest term for each component."""
        parts = []
        for i, typ in enumerate(self.goal.ret.elems):
            wanted = Goal(typ, [out[i] for out in self.goal.expected])
            part = next((t for accepted in sorted(wanted.accepts, key=str)
                         for t in self._terms_of(accepted) if wanted.reached(t, value_key(t.type, t.vals))),
                        None)
            if part is None:
                return None
            parts.append(part)
        return Term(self.ops["tuple"], tuple(parts), self.goal.ret,
                    1 + sum(p.size for p in parts), list(self.goal.expected))

    # ---------------------------------------------------- comprehension uses

    def _consumers(self, walk: Walk) -> None:
        """Try the bodies (and, with the element itself as body, the
        filters) the walk's bank has gained since the last call."""
        sub, allowed = walk.sub, self.search.space.allowed
        first = self._checked.get(id(walk), 0) + 1
        self._checked[id(walk)] = sub.level
        identity = next((t for t in sub.bank.get(walk.elem_type, 1) if walk.is_identity(t)), None)
        for size in range(first, sub.level + 1):
            for typ in sub.bank.types():
                if isinstance(typ, IterT) or not allowed(ListT(typ)):
                    continue
                for body in sub.bank.get(typ, size):
                    self._try_bodies(walk, body, None)
            if identity is not None:
                for pred in walk.preds(size):
                    self._try_bodies(walk, identity, pred)

    def _try_bodies(self, walk: Walk, body: Term, pred: Optional[Term]) -> None:
        self._tick()
        lists = comprehension_values(walk.segments, walk.values(body), walk.values(pred))
        if any(v is ERR for v in lists):
            return
        comp_size = COMP_COST + walk.iterable.size + body.size + (pred.size if pred else 0)
        comp = Term(CompForm(walk.binder), (walk.iterable, body, pred), ListT(body.type),
                    comp_size, lists)
        for program in self._uses(comp, lists):
            self._consider(program)

    def _uses(self, comp: Term, lists: list):
        """Consumers of the comprehension whose results are the goal."""
        ret, expected = self.goal.ret, self.goal.expected
        elem = comp.type.elem
        if comp.type in self.goal.accepts and _same(lists, expected):
            yield comp
        if ret == STR and elem == STR:
            for sep in self.search.bank.get(STR, 1):
                if isinstance(sep.op, Leaf) and all(
                        s.join(xs) == out for s, xs, out in zip(sep.vals, lists, expected)):
                    yield self._call("join", (sep, comp), STR, comp.size + 2)
        if ret in (INT, FLOAT) and elem in (INT, FLOAT) and (elem == ret or ret == FLOAT):
            for name, fn in (("sum", sum), ("max", max), ("min", min)):
                if _matches(fn, lists, expected):
                    yield self._call(name, (comp,), elem, comp.size + 1)
        if ret == INT and comp.args[2] is not None and _matches(len, lists, expected):
            yield self._call("len", (comp,), INT, comp.size + 1)
        if ret == BOOL and elem == BOOL:
            for name, fn in (("any", any), ("all", all)):
                if _matches(fn, lists, expected):
                    yield self._call(name, (comp,), BOOL, comp.size + 1)

    def _call(self, name: str, args: tuple, typ: Type, size: int) -> Term:
        return Term(self.ops[name], args, typ, size, list(self.goal.expected))

    # --------------------------------------------------------------- helpers

    def _terms_of(self, typ: Type, max_size: int = 0) -> list[Term]:
        bank = self.search.bank
        top = min(self.search.level, max_size) if max_size else self.search.level
        return [t for size in range(1, top + 1) for t in bank.get(typ, size)]


def _advance(position: tuple, vals: list, outs: list) -> Optional[tuple]:
    step = []
    for p, v, out in zip(position, vals, outs):
        if not out.startswith(v, p):
            return None
        step.append(p + len(v))
    step = tuple(step)
    return step if step != position else None


def _branch_types_fit(a: Type, b: Type, ret: Type) -> bool:
    if a == b:
        return True
    return isinstance(ret, OptionalT) and NONE in (a, b)


def _matches(fn, lists: list, expected: list) -> bool:
    for xs, out in zip(lists, expected):
        try:
            if not same_value(fn(xs), out):
                return False
        except ValueError:
            return False
    return True


def _same(lists: list, expected: list) -> bool:
    return all(same_value(a, e) for a, e in zip(lists, expected))

"""Size-ordered bottom-up enumeration with observational equivalence.

Takes a `Space` (the ops of synth/ops.py, the constants, the type filter, a
clock) and a `Context` (the variables in scope and their values at every
evaluation point) and builds, size by size, a bank of typed terms in which
each type holds at most one term per distinct vector of values over the
points: the first (hence smallest) one found. At the top level the points
are the examples' inputs and a `Goal` picks out the terms whose values are the
expected outputs: each is a candidate program, handed to the `Space`'s
`accept` as it is found (the first accepted one is raised as `Solved`).
Candidates include terms equal in value to one already banked (`abs(x)`
beside `x` when every example is positive): on the shown examples they
cannot be told apart, and a rejected candidate must leave the others
their turn.

Comprehensions `[E for x in xs if P]` and key functions
(`max(xs, key=lambda x: E)`) are built by synth/forms.py (the `Space`'s
`forms`, so that this module does not import it), which enumerates
their bodies in a nested `Enumerator` whose points are all the elements of
`xs` over all examples.

A term's value at a point where evaluating it failed is `ERR`; eager ops
propagate it, lazy ones (`and`, `or`, `a if c else b`, comprehension
filters) only when they would evaluate that operand, exactly as NPL does.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import product
from typing import Any, Callable, Iterator, Optional

from npl.lang.types import BOOL, FLOAT, NONE, OptionalT, PrimT, Type

from .ops import P_ATOM, Op, Sig, literal
from .values import ERR, apply_pointwise, component_types, same_value, value_key


class Solved(Exception):
    """The search found `term` and it was accepted (a signal that ends the
    search; never leaves the synthesizer)."""

    def __init__(self, term: "Term"):
        super().__init__(term.text)
        self.term = term


class OutOfTime(Exception):
    """The search's time budget ran out (a signal; never leaves the
    synthesizer)."""


WALL_FACTOR = 3        # wall-clock seconds a search may take per second of its budget


class Clock:
    """A search's time budget, counted in the CPU time of the thread that
    runs it (so that the same task finds the same program on a busy
    machine, or beside other holes the filler searches at once), within
    WALL_FACTOR times as much wall-clock time; and a count of evaluated
    candidates."""

    def __init__(self, seconds: float):
        self.deadline = time.thread_time() + seconds
        self.wall_deadline = time.monotonic() + WALL_FACTOR * seconds
        self.explored = 0

    def tick(self) -> None:
        self.explored += 1
        if not self.explored & 127 and (time.thread_time() > self.deadline
                                        or time.monotonic() > self.wall_deadline):
            raise OutOfTime

    def remaining(self) -> float:
        return min(self.deadline - time.thread_time(),
                   (self.wall_deadline - time.monotonic()) / WALL_FACTOR)

    @staticmethod
    def now() -> float:
        """The clock's reading (CPU seconds of this thread)."""
        return time.thread_time()

    @contextmanager
    def outside(self) -> Iterator[None]:
        """Time spent in the block (the caller's check of a candidate) does
        not count against the budget."""
        cpu, wall = time.thread_time(), time.monotonic()
        try:
            yield
        finally:
            self.deadline += time.thread_time() - cpu
            self.wall_deadline += time.monotonic() - wall


class Leaf:
    """The op of a variable or constant term."""
    name = "leaf"

    def __init__(self, text: str, prec: int):
        self._shown = (text, prec)

    def render(self, _args) -> tuple[str, int]:
        return self._shown


class Term:
    """An expression, its NPL type, its size and its value at every point.
    `varying` says whether it mentions a variable (constant expressions
    such as `" ".upper()` are never built)."""
    __slots__ = ("op", "args", "type", "size", "vals", "idx", "varying", "pos", "alts",
                 "_shown")

    def __init__(self, op, args: tuple, typ: Type, size: int, vals: list,
                 varying: Optional[bool] = None):
        self.op, self.args, self.type, self.size, self.vals = op, args, typ, size, vals
        self.idx = -1
        self.varying = varying if varying is not None else any(
            a is not None and a.varying for a in args)
        self.pos: Optional[bool] = None          # see ops.is_position
        self.alts: tuple[Term, ...] = ()          # equal-valued terms the bank turned away
        self._shown: Optional[tuple[str, int]] = None

    def _render(self) -> tuple[str, int]:
        if self._shown is None:
            self._shown = self.op.render(self.args)
        return self._shown

    @property
    def text(self) -> str:
        return self._render()[0]

    @property
    def prec(self) -> int:
        return self._render()[1]

    @property
    def gen(self) -> Optional[str]:
        """Generator-expression text, for comprehension terms only."""
        render_gen = getattr(self.op, "render_gen", None)
        return render_gen(self.args) if render_gen else None

    def __repr__(self) -> str:
        return f"Term({self.text!r}: {self.type}, size {self.size})"


MAX_ALTERNATES = 3      # equal-valued terms kept beside each banked one


class Bank:
    """Terms by type and size, one per observational-equivalence class.
    The first MAX_ALTERNATES other terms of a class are kept as the banked
    term's `alts`: they are never combined further, but when a candidate
    is turned down they give its variants (synth/variants.py)."""

    def __init__(self):
        self._by_type: dict[Type, dict[int, list[Term]]] = {}
        self._seen: dict[Type, dict[tuple, Term]] = {}
        self.size = 0

    def add(self, term: Term, key: tuple) -> bool:
        seen = self._seen.setdefault(term.type, {})
        banked = seen.get(key)
        if banked is not None:
            if len(banked.alts) < MAX_ALTERNATES:
                term.vals = banked.vals
                banked.alts += (term,)
            return False
        seen[key] = term
        term.idx = self.size
        self.size += 1
        self._by_type.setdefault(term.type, {}).setdefault(term.size, []).append(term)
        return True

    def get(self, typ: Type, size: int) -> list[Term]:
        return self._by_type.get(typ, {}).get(size, ())

    def types(self) -> tuple[Type, ...]:
        """Types with terms, in the order they first appeared (a stable
        order keeps the search deterministic)."""
        return tuple(self._by_type)


@dataclass
class Context:
    """Where terms are evaluated: `points` evaluation points and, for each
    variable in scope (bound variables first), its name, type and values."""
    points: int
    variables: list[tuple[str, Type, list]]


@dataclass
class Goal:
    """The expected output at every top-level point."""
    ret: Type
    expected: list

    def __post_init__(self):
        inner = self.ret.inner if isinstance(self.ret, OptionalT) else self.ret
        self.accepts = {self.ret, inner}
        if isinstance(self.ret, OptionalT):
            self.accepts.add(NONE)
        if inner == FLOAT:
            self.accepts.add(PrimT("int"))
        self.exact = FLOAT not in component_types(self.ret)
        self._keys: dict[Type, Optional[tuple]] = {}

    def reached(self, term: Term, key: tuple) -> bool:
        """Does the term (whose value key is `key`) give every expected
        output? Compared by key where no float is involved."""
        if term.type not in self.accepts:
            return False
        if self.exact:
            goal_key = self._key_as(term.type)
            if goal_key is not None:
                return key == goal_key
        return all(same_value(v, e) for v, e in zip(term.vals, self.expected))

    def _key_as(self, typ: Type) -> Optional[tuple]:
        if typ not in self._keys:
            try:
                self._keys[typ] = value_key(typ, self.expected)
            except TypeError:             # e.g. None among the outputs of a list goal
                self._keys[typ] = None
        return self._keys[typ]


@dataclass
class Space:
    """Everything shared by the enumerators of one search."""
    ops: list[Op]
    constants: list[tuple[object, Type]]
    allowed: Callable[[Type], bool]
    clock: Clock
    verify: Callable[[Term], bool] = lambda term: True   # a candidate replays the examples
    # ... and the program the caller accepts: the candidate, one of its variants, or None
    accept: Callable[[Term], Optional[Term]] = lambda term: term
    top_level_skips: frozenset = frozenset()   # (op name, result type) left to deduction
    # Builds an enumerator's binding forms (synth/forms.py FormBuilder, which
    # makes nested enumerators itself); None: no comprehensions or key functions.
    forms: Optional[Callable[["Enumerator"], Any]] = None
    concepts: list = field(default_factory=list)   # synth/concepts.py: named by the description
    max_depth: int = 1                  # comprehension nesting
    iter_max_size: int = 3              # largest term a comprehension walks
    max_iterables: int = 12             # comprehension contexts per enumerator
    point_limit: int = 400              # elements over all examples
    _splits: dict = field(default_factory=dict)

    def splits(self, op: Op, total: int) -> list[tuple[int, ...]]:
        """Ways to give `total` size units to the op's arguments, each at
        least 1 and within the op's limits."""
        key = (op.name, op.arity, op.limits, total)
        if key not in self._splits:
            self._splits[key] = [sizes for sizes in _compositions(total, op.arity)
                                 if op.fits(sizes)]
        return self._splits[key]


def concept_arguments(types: tuple[Type, ...], variables: list[Term]) -> list[tuple[Term, ...]]:
    """The variables a concept of these argument types applies to: one, or
    an ordered pair of distinct ones (`x >= t`: for two arguments of one
    type, in the order the variables are in scope, bound ones first)."""
    if len(types) == 1:
        return [(v,) for v in variables if v.type == types[0]]
    return [(v, w) for i, v in enumerate(variables) for j, w in enumerate(variables)
            if i != j and (v.type, w.type) == types and (types[0] != types[1] or i < j)]


def _compositions(total: int, parts: int):
    if parts == 1:
        if total >= 1:
            yield (total,)
        return
    for first in range(1, total - parts + 2):
        for rest in _compositions(total - first, parts - 1):
            yield (first,) + rest


class Enumerator:
    """Grows a bank level by level: at level n, every op applied to every
    combination of smaller terms whose sizes add up to n (within the op's
    limits), then the comprehensions of size n. `depth` counts enclosing
    comprehensions; bodies are not themselves given comprehensions."""

    def __init__(self, space: Space, ctx: Context, depth: int = 0,
                 goal: Optional[Goal] = None):
        self.space, self.ctx, self.depth, self.goal = space, ctx, depth, goal
        self.bank = Bank()
        self.level = 0
        self._bool_vectors = 0          # distinct error-free bool vectors held
        self.forms = None
        if space.forms is not None and depth < space.max_depth:
            self.forms = space.forms(self)

    def ensure(self, size: int) -> None:
        """Enumerate every term up to `size` (raises Solved / OutOfTime)."""
        while self.level < size:
            self.level += 1
            if self.level == 1:
                self._leaves()
            else:
                self._combine(self.level)
                if self.forms is not None:
                    self.forms.grow(self.level)

    def offer(self, op, args: tuple, typ: Type, size: int, vals: list,
              varying: Optional[bool] = None) -> Optional[Term]:
        """Add a candidate unless it always fails or an equivalent exists."""
        self.space.clock.tick()
        if vals.count(ERR) == len(vals) or not self.space.allowed(typ):
            return None
        key = value_key(typ, vals)
        term = Term(op, args, typ, size, vals, varying)
        banked = self.bank.add(term, key)
        if banked and typ == BOOL and ERR not in key:
            self._bool_vectors += 1
        if self.goal is not None and self.goal.reached(term, key):
            self._candidate(term)
        return term if banked else None

    def _candidate(self, term: Term) -> None:
        """A term with the expected outputs: the answer if it replays the
        examples and the caller accepts it or one of its variants (raises
        Solved)."""
        if self.space.verify(term):
            accepted = self.space.accept(term)
            if accepted is not None:
                raise Solved(accepted)

    def _leaves(self) -> None:
        variables = [self.offer(Leaf(name, P_ATOM), (), typ, 1, vals, varying=True)
                     for name, typ, vals in self.ctx.variables]
        for concept in self.space.concepts:       # priced as leaves: see synth/concepts.py
            for args in concept_arguments(concept.args, [v for v in variables if v is not None]):
                self.offer(concept, args, concept.ret, 1,
                           apply_pointwise(concept.fn, [a.vals for a in args], concept.ret))
        for value, typ in self.space.constants:
            self.offer(Leaf(*literal(value)), (), typ, 1, [value] * self.ctx.points,
                       varying=False)

    def bools_complete(self) -> bool:
        """True once every true/false vector over the points has a term: a
        new bool term can then only be larger than an equivalent one (or
        fail where it does not). Never for a search whose goal is a bool:
        a larger program with the expected values is a candidate."""
        if self.goal is not None and BOOL in self.goal.accepts:
            return False
        return self.ctx.points < 20 and self._bool_vectors >= 2 ** self.ctx.points

    def _combine(self, size: int) -> None:
        types = self.bank.types()
        skips = self.space.top_level_skips if self.depth == 0 else ()
        for op in self.space.ops:
            budget = size - op.cost
            if budget < op.arity:
                continue
            for sig in op.sigs(types):
                if not self.space.allowed(sig.ret) or (op.name, sig.ret) in skips:
                    continue
                if sig.ret == BOOL and self.bools_complete():
                    continue
                self._apply(op, sig, size, budget)

    def _apply(self, op: Op, sig: Sig, size: int, budget: int) -> None:
        for sizes in self.space.splits(op, budget):
            if sig.comm and sizes[0] < sizes[1]:
                continue
            pools = [self.bank.get(t, s) for t, s in zip(sig.args, sizes)]
            if not all(pools):
                continue
            for args in product(*pools):
                if sig.comm and sizes[0] == sizes[1] and args[0].idx > args[1].idx:
                    continue
                if not op.accepts(args):
                    continue
                vecs = [a.vals for a in args]
                vals = op.vec(*vecs) if op.vec else apply_pointwise(op.fn, vecs, sig.ret)
                self.offer(op, args, sig.ret, size, vals)

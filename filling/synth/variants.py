"""Variants of a rejected candidate: the same program with one subterm
replaced by a term of equal value.

Observational equivalence keeps one term per vector of values, so a
subterm that the shown examples cannot tell from the wanted one may have
taken its place for good: for "the numbers of xs that also occur in ys",
the filter `xs.count(x) == ys.count(x)` agrees with `x in ys` on every
element shown, and the bank keeps whichever came first. When the
candidate built on it is turned down (a withheld example, the caller's
check), its variants are the next programs worth trying: each has the same
values on every shown example. They are built from the alternates the
bank keeps beside each banked term (`Term.alts`), one substitution at a
time, smallest first.
"""
from __future__ import annotations

from typing import Iterator

from .enum import Term

MAX_VARIANTS = 24          # variants tried per rejected candidate


def variants(term: Term, limit: int = MAX_VARIANTS) -> list[Term]:
    """Up to `limit` programs equal to `term` on every shown example, each
    with one subterm swapped for one of its alternates, smallest first
    (then in the order the tree is walked)."""
    found = sorted(enumerate(_swaps(term)), key=lambda pair: (pair[1].size, pair[0]))
    return [t for _, t in found[:limit]]


def _swaps(term: Term) -> Iterator[Term]:
    yield from term.alts
    for i, arg in enumerate(term.args):
        if arg is None:
            continue
        for swapped in _swaps(arg):
            args = term.args[:i] + (swapped,) + term.args[i + 1:]
            yield Term(term.op, args, term.type, term.size - arg.size + swapped.size,
                       term.vals, term.varying)

"""Concepts a description names, as cheap building blocks for the search.

Takes a hole's English description; gives back the `Concept`s it names:
"the even numbers" names `x % 2 == 0`, "how many are positive" `x > 0`,
"at least t" `x >= t`, "the squares" `x * x`, "the largest" `max(xs)`,
"occurs most often" `xs.count(x)`, "without vowels" `c in "aeiouAEIOU"`.
The enumerator builds each concept on the variables of its types (the
parameters, a comprehension's element) as a term of size 1, the price of a
variable, so that programs using what the description says come before
programs of the same shape that fit the shown examples by accident
(`[x for x in xs if x % 2 == 0]` before `xs[1:]` for "the even numbers",
`len([x for x in xs if x > 0])` before `-max(xs) % len(xs)` for "how many
are positive"). Programs are still judged by the examples alone: a concept
only changes the order in which candidates come. The printed size of a
program (ops.ast_size) counts a concept's nodes in full.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from npl.lang.types import BOOL, FLOAT, INT, STR, ListT, Type

from .ops import P_ATOM, P_CMP, P_MUL, wrap


@dataclass(frozen=True, eq=False)
class Concept:
    """`template` applied to variables of types `args` ({0}, {1} mark
    them), the op of its terms."""
    name: str
    words: str                          # a regular expression over the description
    args: tuple[Type, ...]
    ret: Type
    template: str
    prec: int                           # precedence of the printed template
    fn: Callable
    nodes: int                          # AST nodes the template adds to its variables

    def render(self, args) -> tuple[str, int]:
        return self.template.format(*(wrap(a, P_ATOM) for a in args)), self.prec


MORE = r"(?:greater|more|larger|bigger|longer|higher|later) than|above|over|exceed\w*"
LESS = r"(?:less|fewer|smaller|shorter|lower|earlier) than|below|under"


def _number_concepts(t: Type) -> list[Concept]:
    one, two = (t,), (t, t)
    n = t.name
    out = [
        Concept(f"positive-{n}", rf"positive|(?:{MORE}) (?:zero|0)", one, BOOL, "{0} > 0", P_CMP,
                lambda x: x > 0, 2),
        Concept(f"negative-{n}", rf"negative|(?:{LESS}) (?:zero|0)", one, BOOL, "{0} < 0", P_CMP,
                lambda x: x < 0, 2),
        Concept(f"square-{n}", r"squared?|squares", one, t, "{0} * {0}", P_MUL,
                lambda x: x * x, 2),
        Concept(f"abs-{n}", r"absolute|magnitudes?|(?:closest|nearest) to (?:zero|0)", one, t,
                "abs({0})", P_ATOM, abs, 1),
        Concept(f"at-least-{n}", r"at least|or more|no less than", two, BOOL, "{0} >= {1}", P_CMP,
                lambda x, y: x >= y, 1),
        Concept(f"at-most-{n}", r"at most|or less|or fewer|no more than", two, BOOL, "{0} <= {1}",
                P_CMP, lambda x, y: x <= y, 1),
        Concept(f"more-{n}", MORE, two, BOOL, "{0} > {1}", P_CMP, lambda x, y: x > y, 1),
        Concept(f"less-{n}", LESS, two, BOOL, "{0} < {1}", P_CMP, lambda x, y: x < y, 1),
    ]
    if t == INT:
        out += [
            Concept("even", r"even", one, BOOL, "{0} % 2 == 0", P_CMP, lambda x: x % 2 == 0, 4),
            Concept("odd", r"odd", one, BOOL, "{0} % 2 == 1", P_CMP, lambda x: x % 2 == 1, 4),
            Concept("divisible", r"divisible by|multiples? of", two, BOOL, "{0} % {1} == 0",
                    P_CMP, lambda x, k: x % k == 0, 3),
        ]
    return out


def _list_concepts(elem: Type) -> list[Concept]:
    xs, n = (ListT(elem),), elem.name
    return [
        Concept(f"largest-{n}", r"largest|maximum|biggest|highest|greatest", xs, elem,
                "max({0})", P_ATOM, max, 1),
        Concept(f"smallest-{n}", r"smallest|minimum|lowest|(?<!at )least", xs, elem,
                "min({0})", P_ATOM, min, 1),
        Concept(f"occurrences-{n}", r"occurs?|occurrences?|often|frequent\w*|common|times",
                (ListT(elem), elem), INT, "{0}.count({1})", P_ATOM,
                lambda items, x: items.count(x), 1),
    ]


def _string_concepts() -> list[Concept]:
    c = (STR,)
    return [
        Concept("vowel", r"vowels?", c, BOOL, '{0} in "aeiouAEIOU"', P_CMP,
                lambda ch: ch in "aeiouAEIOU", 2),
        Concept("digit", r"digits?", c, BOOL, "{0}.isdigit()", P_ATOM, str.isdigit, 1),
        Concept("capital", r"capitals?|capital letters?|upper ?case", c, BOOL,
                "{0}.isupper()", P_ATOM, str.isupper, 1),
        Concept("letter", r"letters?", c, BOOL, "{0}.isalpha()", P_ATOM, str.isalpha, 1),
        Concept("length", r"lengths?|long|longer|longest|short|shorter|shortest|characters",
                c, INT, "len({0})", P_ATOM, len, 1),
    ]


CONCEPTS: tuple[Concept, ...] = tuple(
    _number_concepts(INT) + _number_concepts(FLOAT) + _list_concepts(INT) + _list_concepts(STR)
    + _string_concepts())


def named_concepts(description: str) -> list[Concept]:
    """The concepts whose words occur in the description (whole words,
    any case)."""
    text = description.lower()
    return [c for c in CONCEPTS if re.search(rf"\b(?:{c.words})\b", text)]

"""Concepts a description names, as cheap building blocks for the search.

Takes a hole's English description; gives back the `Concept`s it names:
"the even numbers" names `x % 2 == 0`, "how many are positive" `x > 0`,
"the squares" `x * x`, "without vowels" `c in "aeiou"`. The enumerator
builds each concept on every variable of its type (the parameters, a
comprehension's element) as a term of size 1, the price of a variable, so
that programs using what the description says come before programs of
the same shape that fit the shown examples by accident
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

from npl.lang.types import BOOL, FLOAT, INT, STR, Type

from .ops import P_ATOM, P_CMP, P_MUL, wrap


@dataclass(frozen=True, eq=False)
class Concept:
    """`template` applied to one variable of type `arg` (`{}` marks it)."""
    name: str
    words: str                          # a regular expression over the description
    arg: Type
    ret: Type
    template: str
    prec: int                           # precedence of the printed template
    fn: Callable
    nodes: int                          # AST nodes the template adds to its variable

    def render(self, args) -> tuple[str, int]:
        return self.template.format(wrap(args[0], P_ATOM)), self.prec


def _parity_concepts() -> list[Concept]:
    return [
        Concept("even", r"even", INT, BOOL, "{} % 2 == 0", P_CMP, lambda x: x % 2 == 0, 4),
        Concept("odd", r"odd", INT, BOOL, "{} % 2 == 1", P_CMP, lambda x: x % 2 == 1, 4),
    ]


def _number_concepts(typ: Type) -> list[Concept]:
    t = typ.name
    return [
        Concept(f"positive-{t}", r"positive|(greater|more|larger|bigger) than (zero|0)|above (zero|0)",
                typ, BOOL, "{} > 0", P_CMP, lambda x: x > 0, 2),
        Concept(f"negative-{t}", r"negative|(less|smaller) than (zero|0)|below (zero|0)",
                typ, BOOL, "{} < 0", P_CMP, lambda x: x < 0, 2),
        Concept(f"square-{t}", r"squared?|squares", typ, typ, "{0} * {0}", P_MUL,
                lambda x: x * x, 2),
        Concept(f"abs-{t}", r"absolute|magnitudes?|closest to (zero|0)|nearest to (zero|0)",
                typ, typ, "abs({})", P_ATOM, abs, 1),
    ]


def _string_concepts() -> list[Concept]:
    return [
        Concept("vowel", r"vowels?", STR, BOOL, '{} in "aeiouAEIOU"', P_CMP,
                lambda c: c in "aeiouAEIOU", 2),
        Concept("digit", r"digits?", STR, BOOL, "{}.isdigit()", P_ATOM, str.isdigit, 1),
        Concept("capital", r"capitals?|capital letters?|upper ?case|uppercase", STR, BOOL,
                "{}.isupper()", P_ATOM, str.isupper, 1),
        Concept("letter", r"letters?", STR, BOOL, "{}.isalpha()", P_ATOM, str.isalpha, 1),
        Concept("length", r"length|lengths|long|longer|longest|short|shorter|shortest|characters",
                STR, INT, "len({})", P_ATOM, len, 1),
    ]


CONCEPTS: tuple[Concept, ...] = tuple(
    _parity_concepts() + _number_concepts(INT) + _number_concepts(FLOAT) + _string_concepts())


def named_concepts(description: str) -> list[Concept]:
    """The concepts whose words occur in the description (whole words,
    any case)."""
    text = description.lower()
    return [c for c in CONCEPTS if re.search(rf"\b(?:{c.words})\b", text)]

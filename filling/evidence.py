"""How much the examples say about a synthesized program: its evidence in,
a provenance table and the reason it is trusted alone (or "") out.

An example counts only as far as other examples give a different answer
(`informative`): five `False`s and one `True` pin a predicate down no more
than two examples would, and examples that all expect one answer pin
nothing. Held-out examples, which the program passed without the
synthesizer seeing them, count in full, and a property it passed (checked
on many generated inputs) counts as much as one node needs. A program is trusted without a
model's opinion when it has at least TRUST_PER_NODE informative examples
per node of its AST (`1 not in l`, size 3, from five examples of which one
is `True`: 2 < 6, not trusted), or when the hole has no description (its
examples are then all it asks for).
"""
from __future__ import annotations

from collections import Counter

from npl.compiler.holes import HoleSpec

TRUST_PER_NODE = 2          # informative examples per program node that trust a program alone


def informative(answers: list, held_out: int = 0, properties: int = 0) -> int:
    """How many examples pin a program down: each answer counts as often
    as other examples give a different one (at most its own count), plus
    the held-out examples passed, plus TRUST_PER_NODE for each property
    passed (it tried the program on many inputs the search never saw)."""
    counts = Counter(repr(a) for a in answers)
    return sum(min(c, len(answers) - c) for c in counts.values()) + held_out + \
        TRUST_PER_NODE * properties


def synth_evidence(answers: list, held_out: int, size: int, properties: int = 0) -> dict:
    """The synthesizer's evidence, as a provenance table."""
    table = {"examples": len(answers), "held_out": held_out, "program_size": size,
             "informative": informative(answers, held_out, properties)}
    if properties:
        table["properties"] = properties
    return table


def trusted_alone(evidence: dict, spec: HoleSpec) -> str:
    """Why the synthesizer's program needs no model's opinion, or ""
    (given that a model is there; see the module docstring)."""
    if not spec.description.strip():
        return "the hole has no description: its examples are all it asks for"
    need = TRUST_PER_NODE * evidence.get("program_size", 0)
    if evidence.get("informative", 0) >= need > 0:
        return (f"{evidence['informative']} informative examples for a program of size "
                f"{evidence['program_size']} (at least {TRUST_PER_NODE} per node)")
    return ""

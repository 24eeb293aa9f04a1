"""Choosing a hole's fill by the evidence each source has, not by a fixed
cheapest-first order: the synthesizer's program, the model's candidate(s)
and the figures that decide between them in, one `Outcome` out.

The synthesizer (filling/synth/) finds the smallest program that fits the
examples in view; it never reads the description. Such a program is
trusted alone (the model is not asked) when

  * there is no model: it fills what it can, and the lock records how much
    evidence it had;
  * the hole has no description: its examples are all it asks for;
  * its examples are many for its size: at least TRUST_PER_NODE
    informative examples per node of its program (filling/evidence.py),
    held-out examples it passed included.

Otherwise the model is asked as well (with `[fill] candidates` = K > 1, K
candidates are drawn: the repair loop's, then fresh samples), and the
verified candidates are run side by side and one chosen by agreement and
speed (filling/choice.py): where the synthesizer's program disagrees with a
model's candidate that passed the examples, the model's wins. When the
model gives no accepted fill, the synthesizer's program is used, and its
provenance says so.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional

from npl.compiler.holes import HoleSpec

from .choice import Candidate, choose
from .evidence import trusted_alone
from .sources import FillContext, FillFailed, ModelUnavailable, Outcome


def trusted(outcome: Outcome, why: str, choice: Optional[dict] = None) -> Outcome:
    """`outcome` with the reason it was trusted (and the choice) in its provenance."""
    p = outcome.provenance
    evidence = {**p.evidence, "trusted": why} if p.source == "synth" else p.evidence
    return dataclasses.replace(outcome, provenance=dataclasses.replace(
        p, evidence=evidence, choice=choice if choice is not None else p.choice))


@dataclass
class Sources:
    """What `decide` may draw on for one hole."""
    synthesize: Callable[[], Optional[Outcome]]     # the synthesizer's verified fill, or None
    ask_model: Optional[Callable[[], Outcome]]      # the repair loop (raises FillFailed); None: no model
    sample: Callable[[int], Optional[Outcome]]      # fresh model sample `i`, verified, or None
    candidates: int = 1                             # K: model candidates to draw
    synth_first: bool = True                        # False: the model writes it anew (--refresh)


def decide(ctx: FillContext, spec: HoleSpec, src: Sources) -> Optional[Outcome]:
    """The hole's fill by evidence (see the module docstring); None when
    there is no model and the synthesizer found nothing. Raises FillFailed
    when the model gave no accepted fill and nothing else could."""
    synth = src.synthesize() if src.synth_first or src.ask_model is None else None
    if src.ask_model is None:
        return trusted(synth, "no model to compare it with") if synth else None
    why = trusted_alone(synth.provenance.evidence, spec) if synth else ""
    if synth and why and src.candidates <= 1:
        ctx.on_event(spec, f"synthesizer: trusted alone: {why}")
        return trusted(synth, why)
    pool, failure = model_candidates(ctx, spec, src)
    if synth is None and isinstance(failure, ModelUnavailable):
        synth = src.synthesize()             # a refreshed hole still gets it when the model fails
    if synth is not None:
        pool.append(Candidate("synth", synth, read_description=False))
    if not pool:
        raise failure
    if [c.label for c in pool] == ["synth"]:
        return trusted(synth, f"the model gave no accepted fill ({first_line(failure.reason)})")
    choice = choose(ctx, pool)
    note_choice(ctx, spec, choice.record)
    record = choice.record if len(pool) > 1 or src.candidates > 1 else {}
    if src.candidates > 1:
        record = {**record, "drawn": src.candidates}      # model candidates asked for
    winner = choice.chosen
    if winner.label == "synth":
        return trusted(synth, f"agreed with the model's candidates on {record.get('inputs', 0)} "
                              "generated inputs and was faster", record)
    return trusted(winner.outcome, "", record)


def model_candidates(ctx: FillContext, spec: HoleSpec,
                     src: Sources) -> tuple[list[Candidate], Optional[FillFailed]]:
    """The model's verified candidates: the repair loop's, then K - 1 fresh
    samples (also when the repair loop failed); and the repair loop's failure."""
    pool: list[Candidate] = []
    failure: Optional[FillFailed] = None
    try:
        pool.append(Candidate("model", src.ask_model(), read_description=True))
    except FillFailed as err:
        failure = err
    if isinstance(failure, ModelUnavailable):
        return pool, failure
    for i in range(1, src.candidates):
        outcome = src.sample(i)
        if outcome is not None:
            pool.append(Candidate(f"model sample {i + 1}", outcome, read_description=True))
    return pool, failure


def note_choice(ctx: FillContext, spec: HoleSpec, record: dict) -> None:
    """Say how the choice went, in the hole's progress notes."""
    clusters = record.get("clusters")
    if not clusters:
        return
    groups = "; ".join(", ".join(c) for c in clusters)
    ctx.on_event(spec, f"chose {record['chosen']} among {len(record['candidates'])} verified "
                       f"candidates by agreement on {record['inputs']} generated inputs "
                       f"(clusters: {groups})")
    if "disagreement" in record:
        ctx.on_event(spec, f"candidates disagree {record['disagreement']}")


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:160] if lines else ""

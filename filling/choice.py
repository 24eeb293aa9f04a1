"""Several verified candidates of one hole in, one chosen out, with the
figures of the choice for the lock's provenance.

Every candidate given here already passed the hole's checks
(filling/candidate.py). They are run side by side on the same generated
inputs, in the sandbox (filling/agreement.py), and chosen

  1. by agreement: candidates that give the same result on every input
     both finished form a cluster (after CodeT and AlphaCode's clustering:
     independent programs that behave alike on many inputs are more likely
     right). Clusters with a candidate that read the hole's description (a
     model's) come before clusters without one (the synthesizer's program
     fits the examples and nothing else: where it disagrees with a model's
     candidate that passes the examples, the model's wins); then the
     larger cluster; then the one holding the earlier candidate;
  2. by speed within the chosen cluster: each member is timed on inputs
     grown to several sizes; the one that finishes the largest size, and
     then is fastest there by at least SPEED_MARGIN (and MIN_GAIN seconds),
     is preferred; otherwise the earlier candidate stays.

When the side-by-side run cannot be made (the worker failed, the function
takes no arguments, a parameter type no input can be made of, or the hole
is a sub-hole whose siblings are not filled yet), the first candidate that
read the description is chosen and the reason recorded.
"""
from __future__ import annotations

from dataclasses import dataclass
from .sources import FillContext, Outcome

SPEED_MARGIN = 1.5          # a later candidate must be this many times faster to be preferred
MIN_GAIN = 0.001            # ... and faster by at least this many seconds
RULE = "agreement on generated inputs, then speed on growing inputs"
CHOICE = "choice"           # the source of a choice's attempt record


@dataclass
class Candidate:
    label: str                  # "model", "model sample 2", "synth"
    outcome: Outcome
    read_description: bool      # written by a model from the description


@dataclass
class Choice:
    chosen: Candidate
    record: dict                # for Provenance.choice


def candidate_fills(ctx: FillContext, outcome: Outcome) -> dict[str, str]:
    """The fills table of the program with `outcome` (its sub-holes' fills included)."""
    fills = dict(ctx.fills)

    def add(o: Outcome) -> None:
        fills[o.spec.key] = o.fill
        for sub in o.sub:
            add(sub)
    add(outcome)
    return fills


def choose(ctx: FillContext, candidates: list[Candidate]) -> Choice:
    """The chosen candidate and the figures of the choice (see the module
    docstring), recorded as an attempt of source CHOICE (filling/attempts.py).
    `candidates`: verified ones, in order of preference when nothing else
    tells them apart."""
    labels = [c.label for c in candidates]
    if len(candidates) == 1:
        return Choice(candidates[0], {"candidates": labels, "chosen": labels[0]})
    from .attempts import ACCEPTED
    spec = candidates[0].outcome.spec
    with ctx.attempts.attempt(spec, CHOICE, detail=", ".join(labels)) as rec:
        choice = weigh(ctx, candidates)
        rec.fill = choice.chosen.outcome.fill
        rec.verdict, rec.stage = ACCEPTED, "agreement" if "clusters" in choice.record else "fallback"
        rec.feedback = summary(choice.record)
    return choice


def summary(record: dict) -> str:
    """The choice in one line, for its attempt record."""
    if "clusters" not in record:
        return f"chose {record['chosen']}: {record.get('note', '')}"
    groups = "; ".join(", ".join(c) for c in record["clusters"])
    text = f"chose {record['chosen']} on {record['inputs']} inputs (clusters: {groups})"
    return text + (f"; they disagree {record['disagreement']}" if "disagreement" in record else "")


def weigh(ctx: FillContext, candidates: list[Candidate]) -> Choice:
    """`choose` without the record."""
    labels = [c.label for c in candidates]
    if ctx.defer_tests:
        return fallback(candidates, "its sibling holes are not filled yet, so the candidates "
                                    "cannot be run")
    from .sandbox import compare_isolated
    spec = candidates[0].outcome.spec
    report = compare_isolated(ctx.source, ctx.path, [candidate_fills(ctx, c.outcome) for c in candidates],
                              spec.key, ctx.limits)
    if not report.get("accepted"):
        return fallback(candidates, "the candidates could not be run side by side: "
                        + first_line(report.get("feedback", "")))
    outputs = report["outputs"]
    compared = len(outputs[0]) if outputs else 0
    if not compared:
        return fallback(candidates, "no input was run within the time allowed")
    clusters = cluster(outputs)
    clusters.sort(key=lambda members: cluster_rank(members, candidates))
    best = clusters[0]
    winner, speed = fastest(best, report, labels)
    chosen = candidates[winner]
    record = {"candidates": labels, "chosen": chosen.label, "inputs": compared,
              "clusters": [[labels[i] for i in members] for members in clusters], "rule": RULE}
    differ = disagreement(best, clusters[1:], report, labels)
    if differ:
        record["disagreement"] = differ
    if speed:
        record["speed"] = speed
    return Choice(chosen, record)


def fallback(candidates: list[Candidate], why: str) -> Choice:
    chosen = next((c for c in candidates if c.read_description), candidates[0])
    return Choice(chosen, {"candidates": [c.label for c in candidates], "chosen": chosen.label,
                           "rule": "the first candidate that read the description", "note": why})


def agree(a: list, b: list) -> bool:
    """The same result wherever both finished (None: stopped by a limit)."""
    return all(x == y for x, y in zip(a, b) if x is not None and y is not None)


def cluster(outputs: list[list]) -> list[list[int]]:
    """Candidate indices grouped by agreement, each with the first one that
    it agrees with (a cluster is led by its first member)."""
    clusters: list[list[int]] = []
    for i, out in enumerate(outputs):
        home = next((c for c in clusters if agree(outputs[c[0]], out)), None)
        if home is None:
            clusters.append([i])
        else:
            home.append(i)
    return clusters


def cluster_rank(members: list[int], candidates: list[Candidate]) -> tuple:
    described = any(candidates[i].read_description for i in members)
    return (not described, -len(members), min(members))


def fastest(members: list[int], report: dict, labels: list[str]) -> tuple[int, dict]:
    """The member to choose by speed, and the timings of the members
    (`sizes`, and label -> seconds at each size) when there are several."""
    speed = report.get("speed") or []
    profiles = {i: speed[i] if i < len(speed) else {"seconds": []} for i in members}
    best = members[0]
    for i in members[1:]:
        if faster(profiles[i]["seconds"], profiles[best]["seconds"]):
            best = i
    if len(members) < 2:
        return best, {}
    table = {"sizes": report.get("sizes", [])[:max(len(profiles[i]["seconds"]) for i in members)]}
    for i in members:
        table[labels[i]] = profiles[i]["seconds"]
    return best, table


def faster(a: list[float], b: list[float]) -> bool:
    """Whether timings `a` beat `b`: a larger size finished, or at the
    largest size both finished, SPEED_MARGIN times and MIN_GAIN seconds faster."""
    if len(a) != len(b):
        return len(a) > len(b)
    if not a:
        return False
    return a[-1] * SPEED_MARGIN <= b[-1] and b[-1] - a[-1] >= MIN_GAIN


def disagreement(best: list[int], others: list[list[int]], report: dict, labels: list[str]) -> str:
    """`on INPUT: RESULT (chosen) vs RESULT (label)` for the first input
    where the chosen cluster and another differ."""
    outputs, inputs = report["outputs"], report.get("inputs", [])
    lead = best[0]
    for members in others:
        other = members[0]
        for k, (x, y) in enumerate(zip(outputs[lead], outputs[other])):
            if x is not None and y is not None and x != y:
                shown = inputs[k] if k < len(inputs) else "?"
                return f"on ({shown}): {x} ({labels[lead]}) vs {y} ({labels[other]})"
    return ""


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:160] if lines else "no reason given"

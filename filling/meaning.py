"""Whether a library entry means what a hole asks for: (hole, entry) in, a
`Judgement` out.

A library entry that passes a hole's checks is not thereby the hole's
answer: with few examples almost anything stored passes them (a stored
`count_distinct_characters` passes `'' -> 0, 'abc' -> 3` for "the length of
the string"), and the words two descriptions share (the BM25 ranking that
found the entry, filling/library.py) are no evidence that they mean the
same. So before an entry that passed is reused, its meaning is judged:

  * a description identical to the hole's (`identical`) means the same;
  * otherwise, with a model (`judge_by_model`): the model is asked, in a
    short prompt whose reply is constrained to yes or no (a GBNF grammar
    for the local model, a JSON schema for hosted ones), whether the two
    signatures and descriptions ask for the same function;
  * without one, or when asking fails (`judge_by_wording`): the entry is
    reused only when its description uses the same content words as the
    hole's (`similarity` 1: the Dice overlap of their stemmed words, stop
    words and the parameters' names left out, so "The digits in s" and
    "the digit in word" meet, but "the number of characters" and "the
    number of distinct characters", or "... ignoring case", do not: one
    word can change the function, and without a model nothing reads
    them). A hole with no checks is never filled from the library
    (filling/sources.py `from_library`), so an entry reused this way has
    passed at least one check as well.

The judgement, by whom and on what figures, goes into the lock's
provenance (`Judgement.evidence`) when the entry is reused and into the
fill's progress notes when it is not. A model's answer is kept in the
library under `question_key` (the model and the exact question), so the
same question is not asked again (`remembered`: the evidence then says
when it was asked).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Optional

from npl.compiler.holes import HoleSpec

from .library import LibraryEntry, tokenize

SAME_WORDING = 1.0          # similarity that, without a model, lets a passing entry be reused
MAX_TOKENS = 16             # a yes/no reply (a JSON one for hosted models)

YES_NO_GRAMMAR = 'root ::= "yes" | "no"'
SAME_SCHEMA = {"type": "object", "properties": {"same": {"type": "boolean"}},
               "required": ["same"], "additionalProperties": False}

SYSTEM = ("You decide whether two specifications describe the same function. "
          "Parameter names may differ; what matters is the result for the same arguments.")


@dataclass(frozen=True)
class Judgement:
    """Whether an entry means what the hole asks for, by whom, on what."""
    same: bool
    by: str                     # the model's name, or "wording"
    similarity: float           # of the two descriptions' words (always recorded)
    checks: int                 # the hole's own examples and properties the entry passed
    reply: str = ""             # the model's reply, as given
    asked_at: str = ""          # when a kept answer was given ("" if asked in this run)

    def evidence(self) -> dict:
        """The judgement as a provenance table (filling/lockfile.py)."""
        table = {"meaning": "same" if self.same else "different", "judged_by": self.by,
                 "similarity": self.similarity, "checks": self.checks}
        if self.reply:
            table["reply"] = self.reply
        if self.asked_at:
            table["asked_at"] = self.asked_at
        return table

    def describe(self) -> str:
        """For progress notes: `the model judged ... (similarity 0.42)`."""
        verdict = "the same function" if self.same else "another function"
        who = "its wording" if self.by == "wording" else self.by
        when = f", its answer of {self.asked_at}" if self.asked_at else ""
        return f"{who} judged its description to ask for {verdict} (word similarity " \
               f"{self.similarity:.2f}, {self.checks} check(s) passed{when})"


def similarity(a: str, b: str, names: tuple[str, ...] = ()) -> float:
    """Dice coefficient of the two texts' stemmed content words (0..1),
    the words of `names` (the parameters') left out."""
    ignored = set(tokenize(" ".join(names)))
    x, y = set(tokenize(a)) - ignored, set(tokenize(b)) - ignored
    if not x and not y:
        return 1.0 if " ".join(a.split()).lower() == " ".join(b.split()).lower() else 0.0
    return round(2 * len(x & y) / (len(x) + len(y)), 3)


def description_similarity(spec: HoleSpec, entry: LibraryEntry) -> float:
    """`similarity` of the hole's and the entry's descriptions, either side's
    parameter names left out."""
    names = tuple(n for n, _ in spec.params) + tuple(entry.param_names)
    return similarity(spec.description, entry.description, names)


def identical(spec: HoleSpec, entry: LibraryEntry) -> bool:
    """The same description, word for word (case and spacing aside): the
    wording then settles the meaning and no model need be asked."""
    a, b = (" ".join(t.split()).casefold() for t in (spec.description, entry.description))
    return bool(a) and a == b


def own_checks(spec: HoleSpec) -> int:
    """The hole's own examples and properties (not its callers')."""
    return len(spec.tests)


def judge_by_wording(spec: HoleSpec, entry: LibraryEntry) -> Judgement:
    """The rule without a model (see the module docstring)."""
    sim = description_similarity(spec, entry)
    checks = own_checks(spec)
    same = checks > 0 and sim >= SAME_WORDING
    return Judgement(same, "wording", sim, checks)


def entry_signature(entry: LibraryEntry) -> str:
    """`def NAME(p: T, ...) -> R` of a library entry's function."""
    m = re.search(r"^def (\w+)\(", entry.fill, re.M)
    name = m.group(1) if m else "f"
    params = ", ".join(f"{n}: {t}" for n, t in zip(entry.param_names, entry.param_types))
    return f"def {name}({params}) -> {entry.return_type}"


def messages_for(spec: HoleSpec, entry: LibraryEntry, as_json: bool) -> list[dict]:
    """The yes/no question about `spec` and `entry`."""
    def block(signature: str, description: str) -> str:
        text = " ".join(description.split()) or "(no description)"
        return f"{signature}:\n    \"\"\"{text}\"\"\""
    answer = ('Answer with JSON: {"same": true} or {"same": false}.' if as_json
              else "Answer yes or no.")
    question = (f"Specification A:\n{block(spec.signature, spec.description)}\n\n"
                f"Specification B:\n{block(entry_signature(entry), entry.description)}\n\n"
                "Given the same arguments, must a correct implementation of A and a correct "
                f"implementation of B always return the same result? {answer}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def parse_same(text: str) -> Optional[bool]:
    """True / False from a yes/no or {"same": ...} reply; None when unclear."""
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("same"), bool):
        return data["same"]
    word = re.match(r"\W*(yes|no)\b", stripped, re.I)
    return None if word is None else word.group(1).lower() == "yes"


def question_for(spec: HoleSpec, entry: LibraryEntry, provider) -> tuple[list[dict], dict]:
    """The meaning question for `provider`: (messages, the reply constraint)."""
    local = getattr(provider, "name", "").startswith("local/")
    extra = {"grammar": YES_NO_GRAMMAR} if local else {"json_schema": SAME_SCHEMA}
    return messages_for(spec, entry, not local), extra


def question_key(spec: HoleSpec, entry: LibraryEntry, provider) -> str:
    """What a kept answer is filed under: the model and its exact question."""
    messages, extra = question_for(spec, entry, provider)
    text = json.dumps([provider.name, messages, extra], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(b"npl-meaning-question-v1\n" + text.encode("utf-8")).hexdigest()


def judge_by_model(spec: HoleSpec, entry: LibraryEntry, provider, on_completion) -> Judgement:
    """Ask `provider` whether `entry` means what `spec` asks for; an unclear
    reply counts as "no". `on_completion(messages, completion)` accounts
    for the call. Raises ProviderError when the model cannot be asked."""
    messages, extra = question_for(spec, entry, provider)
    completion = provider.complete(messages, max_tokens=MAX_TOKENS, temperature=0.0, **extra)
    on_completion(messages, completion)
    same = parse_same(completion.text)
    return Judgement(bool(same), provider.name, description_similarity(spec, entry),
                     own_checks(spec), " ".join(completion.text.split())[:40])


def remembered(spec: HoleSpec, entry: LibraryEntry, kept) -> Judgement:
    """The Judgement of a kept answer (filling/library.py `Remembered`)."""
    return Judgement(kept.same, kept.model, description_similarity(spec, entry),
                     own_checks(spec), kept.reply, kept.at)

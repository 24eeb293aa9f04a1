"""The rules behind trust by evidence, one at a time: how many examples
count (filling/evidence.py), when wording alone lets a library entry be
reused and how a model is asked (filling/meaning.py), how candidates are
clustered and timed (filling/choice.py, filling/agreement.py), and that
the lock's new provenance tables leave old locks and library entries as
they were (filling/lockfile.py)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from npl.compiler.driver import compile
from npl.filling.agreement import grown
from npl.filling.choice import Candidate, agree, cluster, cluster_rank, faster
from npl.filling.evidence import informative, synth_evidence, trusted_alone
from npl.filling.library import LibraryEntry, library_entry_hash
from npl.filling.lockfile import LockEntry, LockFile, Provenance, render_lock, restamp
from npl.filling.meaning import (SAME_SCHEMA, YES_NO_GRAMMAR, identical, judge_by_model,
                                 judge_by_wording, parse_same, similarity)
from npl.filling.providers.base import Completion
from npl.lang.types import INT, STR, BOOL, ListT


def hole(doc: str, examples: int = 2):
    lines = [f"example strlen({'x' * i!r}) == {i}" for i in range(examples)]
    source = (f'def strlen(string: str) -> int:\n    """{doc}"""\n    ...\n\n'
              + "\n".join(lines) + "\n")
    [spec] = compile(source, "h.npl").holes
    return spec


def entry(doc: str) -> LibraryEntry:
    return LibraryEntry("function", ("str",), ("s",), "int", doc,
                        "def count_distinct_characters(s: str) -> int:\n    return len(set(s))\n")


# ---------------------------------------------------------------- the synthesizer's evidence

def test_an_example_counts_only_as_far_as_others_answer_differently():
    assert informative([False, False, False, True, False]) == 2      # pairs_sum_to_zero
    assert informative([0, 3, 5, 2]) == 4
    assert informative([7, 7, 7]) == 0                                # all alike: nothing pinned
    assert informative([True, False], held_out=2) == 4
    assert informative([5, 0, 7], properties=1) == 5                 # a property counts 2


def test_the_synthesizer_is_trusted_alone_only_with_examples_for_its_size():
    spec = hole("Return the length of the given string.")
    assert trusted_alone(synth_evidence([False, False, False, True], 1, 3), spec) == ""
    assert trusted_alone(synth_evidence([0, 2, 5], 1, 2), spec).startswith(
        "4 informative examples for a program of size 2")
    assert trusted_alone(synth_evidence([0, 2], 0, 2), spec) == ""
    assert "no description" in trusted_alone(synth_evidence([0, 2], 0, 5), hole(""))


# ---------------------------------------------------------------- meaning

def test_similarity_is_the_overlap_of_stemmed_content_words():
    assert similarity("Count the vowels in s.", "counting vowels of S") == 1.0
    assert similarity("The digits in text.", "The digit in word.", ("text", "word")) == 1.0
    assert similarity("The digits in text.", "The digit in word.") == 0.5
    assert similarity("Return the length of the given string.",
                      "Count the distinct characters of the given string.") < 0.5
    assert similarity("", "") == 1.0 and similarity("", "x words") == 0.0


@pytest.mark.parametrize("doc, checks, same", [
    ("The number of characters in string.", 2, False),     # shared words, another meaning
    ("The number of characters in string.", 5, False),     # ... however many checks
    ("The numbers of distinct characters in the string.", 1, True),   # the same words
    ("The number of distinct characters in the string.", 0, False),   # nothing checks it
    ("The number of distinct characters in the string, ignoring case.", 5, False),  # one more
])
def test_without_a_model_only_the_same_words_and_a_check_allow_reuse(doc, checks, same):
    # `s` and `string` are parameter names: left out of the comparison
    j = judge_by_wording(hole(doc, checks), entry("The number of distinct characters in s."))
    assert (j.same, j.by, j.checks) == (same, "wording", checks)


def test_identical_descriptions_need_no_judge():
    assert identical(hole("Twice  THE value."), dataclasses.replace(entry(""), description="twice the value."))
    assert not identical(hole(""), entry(""))


class RecordingProvider:
    def __init__(self, name: str, reply: str):
        self.name, self.reply, self.calls = name, reply, []

    def complete(self, messages, **options):
        self.calls.append((messages, options))
        return Completion(self.reply, self.name, 30, 1, 0.01)


@pytest.mark.parametrize("name, reply, constraint, same", [
    ("local/qwen", "no", {"grammar": YES_NO_GRAMMAR}, False),
    ("local/qwen", "yes", {"grammar": YES_NO_GRAMMAR}, True),
    ("openai/m", '{"same": true}', {"json_schema": SAME_SCHEMA}, True),
    ("openai/m", "I am not sure", {"json_schema": SAME_SCHEMA}, False),   # unclear: no
])
def test_the_model_is_asked_a_constrained_yes_no_question(name, reply, constraint, same):
    provider, spent = RecordingProvider(name, reply), []
    j = judge_by_model(hole("Return the length of the given string."),
                       entry("Count the distinct characters of the given string."), provider,
                       lambda messages, completion: spent.append(completion))
    [(messages, options)] = provider.calls
    assert {k: options[k] for k in constraint} == constraint and options["temperature"] == 0.0
    text = messages[-1]["content"]
    assert "def strlen(string: str) -> int" in text
    assert "def count_distinct_characters(s: str) -> int" in text
    assert (j.same, j.by, j.reply) == (same, name, reply[:40])
    assert len(spent) == 1
    assert j.evidence()["meaning"] == ("same" if same else "different")


def test_yes_no_replies_are_read_leniently_but_never_guessed():
    assert parse_same(" Yes.") is True and parse_same("no") is False
    assert parse_same('{"same": false}') is False and parse_same("maybe") is None


# ---------------------------------------------------------------- choice

def cand(label: str, described: bool = True) -> Candidate:
    return Candidate(label, None, described)


def test_candidates_that_agree_where_both_finished_share_a_cluster():
    outputs = [["1", "2", None], ["1", "2", "3"], ["1", "9", "3"], [None, "9", "3"]]
    assert agree(outputs[0], outputs[1]) and not agree(outputs[1], outputs[2])
    assert cluster(outputs) == [[0, 1], [2, 3]]


def test_a_cluster_with_a_described_candidate_comes_first_then_the_larger():
    cands = [cand("model"), cand("model sample 2"), cand("synth", False), cand("x", False)]
    clusters = [[2, 3], [1], [0]]
    clusters.sort(key=lambda members: cluster_rank(members, cands))
    assert clusters == [[0], [1], [2, 3]]       # the synthesizer's pair never outvotes a model
    clusters = [[0], [1, 2]]
    clusters.sort(key=lambda members: cluster_rank(members, cands))
    assert clusters == [[1, 2], [0]]


def test_speed_prefers_the_larger_size_finished_then_a_clear_margin():
    assert faster([0.1, 0.2, 0.4], [0.1, 0.5])
    assert not faster([0.1], [0.1, 0.5])
    assert faster([0.001, 0.002, 0.01], [0.001, 0.002, 0.05])
    assert not faster([0.001, 0.002, 0.0100], [0.001, 0.002, 0.0120])     # within the margin
    assert not faster([0.00001], [0.0001])                                 # under MIN_GAIN


def test_inputs_grow_by_their_strings_and_lists_or_else_their_ints():
    assert grown(("ab", 3), [STR, INT], 5) == ("ababa", 3)
    assert grown(([1, 2], True), [ListT(INT), BOOL], 4) == ([1, 2, 1, 2], True)
    assert grown((7,), [INT], 64) == (64,) and grown((-2,), [INT], 8) == (-8,)
    assert grown(("",), [STR], 3) == ("aba",)


# ---------------------------------------------------------------- compatibility

# Written by npl before provenance had `evidence` and `choice`.
OLD_LOCK = '''\
version = 1

[holes.k1]
name = "double"
kind = "function"
location = "prog.npl:1:1"
signature = "def double(x: int) -> int"
description = "Twice x."
fill = """
def double(x: int) -> int:
    return x + x
"""
hash = "d4cd886b4057274c2c6b0bbb7028bc16146f8f65e46b2f54d3f416c05eaf1825"

[holes.k1.provenance]
source = "synth"
model = ""
attempts = 1
prompt_tokens = 0
completion_tokens = 0
seconds = 0.25
library_entry = ""

[holes.k1.verification]
checks_passed = [
    "example@5",
]
verified_at = "2026-01-01T00:00:00+00:00"
'''


def test_a_lock_written_before_evidence_and_choice_loads_and_writes_back_unchanged(tmp_path: Path):
    path = tmp_path / "prog.npl.lock"
    path.write_text(OLD_LOCK)
    lock = LockFile.load(path)
    assert lock.tampered == [] and lock.entries["k1"].provenance.evidence == {}
    assert render_lock(lock.entries).endswith(OLD_LOCK)


def test_evidence_and_choice_round_trip_and_are_hashed(tmp_path: Path):
    path = tmp_path / "prog.npl.lock"
    path.write_text(OLD_LOCK)
    old = LockFile.load(path).entries["k1"]
    prov = dataclasses.replace(old.provenance, evidence={"examples": 4, "trusted": "no model"},
                               choice={"clusters": [["model"], ["synth"]], "inputs": 40})
    new = restamp(dataclasses.replace(old, provenance=prov))
    assert new.hash != old.hash
    path.write_text(render_lock({"k1": new}))
    assert "[holes.k1.provenance.evidence]" in path.read_text()
    again = LockFile.load(path)
    assert again.tampered == [] and again.entries["k1"] == new
    path.write_text(path.read_text().replace('trusted = "no model"', 'trusted = "edited"'))
    assert [t.key for t in LockFile.load(path).tampered] == ["k1"]


def test_library_entries_keep_their_hash():
    e = LibraryEntry("function", ("int",), ("x",), "int", "Twice x.",
                     "def double(x: int) -> int:\n    return x + x\n", ("example double(2) == 4",),
                     (), Provenance("synth", "", 1, 0, 0, 0.25), created="2026-01-01T00:00:00+00:00")
    assert library_entry_hash(e) == "e95cb798169dcfd4af06c28ce12144446aeeb0527c6dc8b5f84ad15fdb17a945"

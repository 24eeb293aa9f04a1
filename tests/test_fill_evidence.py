"""Trust by evidence and the choice among candidates (issue #12), end to
end through `npl fill` against a scripted model (tests/fakellm.py):

  * a library entry whose description shares words with the hole's but
    means something else is not reused, and the judgement is said;
  * the synthesizer's program that fits a few examples but disagrees with
    the model's candidate on generated inputs loses to it;
  * `--candidates K` draws K candidates, clusters them by agreement, and
    records the choice in the lock's provenance; speed decides within a
    cluster;
  * without a model the synthesizer fills what it can, with its evidence
    in the lock.
"""
from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, prompt_text
from npl.filling.library import Library, LibraryEntry
from npl.filling.lockfile import Provenance


@pytest.fixture(autouse=True)
def no_local_model(monkeypatch):
    monkeypatch.setenv("NPL_LOCAL_MODEL", "off")


def run_npl(args, cwd: Path, server=None, timeout=240) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if server is not None:
        env["OPENAI_BASE_URL"] = server.base_url
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def lock_of(path: Path) -> dict:
    data = tomllib.loads(path.with_name(path.name + ".lock").read_text("utf-8"))
    return {h["name"]: h for h in data.get("holes", {}).values()}


def is_meaning_question(request: dict) -> bool:
    return "Specification A" in prompt_text(request)


def code(name: str, params: str, ret: str, body: str) -> str:
    return f"```npl\ndef {name}({params}) -> {ret}:\n    {body}\n```"


# ---------------------------------------------------------------- the library

DISTINCT = LibraryEntry(
    "function", ("str",), ("string",), "int",
    "Count how many distinct characters the given string has, regardless of case.",
    "def count_distinct_characters(string: str) -> int:\n    return len(set(string.lower()))\n",
    examples=("example count_distinct_characters('xyzXYZ') == 3",),
    provenance=Provenance("openai/m", "m", 1, 10, 10, 0.1))

LENGTH = '''\
def strlen(string: str) -> int:
    """Return the length of the given string."""
    ...

example strlen('') == 0
example strlen('abc') == 3

def main():
    print(strlen("hello"))
'''


def test_a_library_entry_with_shared_words_but_another_meaning_is_not_reused(tmp_path):
    with Library() as lib:
        entry_id = lib.add(DISTINCT)                 # passes both examples: 0 and 3

    def respond(request):
        if is_meaning_question(request):
            return '{"same": false}'
        return code("strlen", "string: str", "int", "return len(string)")
    (tmp_path / "prog.npl").write_text(LENGTH)
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--log", "log.jsonl"], tmp_path,
                    server)
        asked = [q.json for q in server.requests]
    assert r.returncode == 0, r.stderr
    assert is_meaning_question(asked[0])            # asked about the entry first, then to write it
    question = prompt_text(asked[0])
    assert "def strlen(string: str) -> int" in question and "distinct characters" in question
    assert asked[0]["response_format"]["type"] == "json_schema"     # the reply is constrained
    assert f"library: entry {entry_id} passed the checks but is not used: openai/m judged its " \
           "description to ask for another function" in r.stderr
    hole = lock_of(tmp_path / "prog.npl")["strlen"]
    assert hole["provenance"]["source"] == "openai/m" and "len(string)" in hole["fill"]
    assert "count_distinct_characters" not in hole["fill"]
    # the judgement is an attempt of the model, and the entry's attempt says why it was not used
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    judged = [a for a in log if a["detail"] == f"meaning of library entry {entry_id}"]
    assert [(a["source"], a["verdict"], a["stage"], a["reply"]) for a in judged] == \
        [("openai/m", "rejected", "meaning", '{"same": false}')]
    [used] = [a for a in log if a["source"] == "library"]
    assert (used["verdict"], used["stage"]) == ("rejected", "meaning")
    assert "judged its description to ask for another function" in used["feedback"]


def test_a_models_meaning_judgement_is_kept_and_not_asked_again(tmp_path):
    """The answer is kept in the library (signed), so the next fill of the
    same hole with the same model does not ask again; a kept row that does
    not verify is ignored and the model is asked again."""
    import sqlite3
    with Library() as lib:
        entry_id = lib.add(DISTINCT)
        db_path = lib.path

    def respond(request):
        if is_meaning_question(request):
            return '{"same": false}'
        return code("strlen", "string: str", "int", "return len(string)")

    def fill_again() -> tuple[subprocess.CompletedProcess, int]:
        (tmp_path / "prog.npl.lock").unlink(missing_ok=True)
        with Library() as lib:                          # not the last run's own fill
            for entry in lib.list():
                if entry.id != entry_id:
                    lib.remove(entry.id)
        with FakeLLMServer(default=dynamic(respond)) as server:
            r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path, server)
            questions = sum(is_meaning_question(q.json) for q in server.requests)
        assert r.returncode == 0, r.stderr
        return r, questions
    (tmp_path / "prog.npl").write_text(LENGTH)
    r, questions = fill_again()
    assert questions == 1
    r, questions = fill_again()
    assert questions == 0
    assert f"library: entry {entry_id} passed the checks but is not used: openai/m judged its " \
           "description to ask for another function" in r.stderr and "its answer of 20" in r.stderr
    with sqlite3.connect(db_path) as db:                # the kept answer is forged to "same"
        db.execute("UPDATE judgements SET same = 1")
    r, questions = fill_again()
    assert questions == 1
    assert "count_distinct_characters" not in lock_of(tmp_path / "prog.npl")["strlen"]["fill"]


def test_without_a_model_shared_words_never_fill_a_hole(tmp_path):
    with Library() as lib:
        lib.add(DISTINCT)
    (tmp_path / "prog.npl").write_text(LENGTH)
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode == 1
    assert "passed the checks but is not used: its wording judged its description to ask for " \
           "another function (word similarity" in r.stderr
    assert not (tmp_path / "prog.npl.lock").exists() or lock_of(tmp_path / "prog.npl") == {}


def test_an_entry_the_model_judges_the_same_is_reused_with_the_judgement_recorded(tmp_path):
    with Library() as lib:
        entry_id = lib.add(DISTINCT)
    (tmp_path / "prog.npl").write_text('''\
def distinct(text: str) -> int:
    """The number of different letters in text, ignoring upper and lower case."""
    ...

example distinct('aAb') == 2
''')
    with FakeLLMServer(default=dynamic(lambda q: "yes")) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path, server)
        assert len(server.requests) == 1 and is_meaning_question(server.requests[0].json)
    assert r.returncode == 0, r.stderr
    hole = lock_of(tmp_path / "prog.npl")["distinct"]
    assert (hole["provenance"]["source"], hole["provenance"]["library_entry"]) == ("library", entry_id)
    evidence = hole["provenance"]["evidence"]
    assert (evidence["meaning"], evidence["judged_by"], evidence["reply"]) == ("same", "openai/m", "yes")
    assert evidence["checks"] == 1 and "asked_at" not in evidence
    # filled again, the kept answer decides, and the lock says when it was given
    (tmp_path / "prog.npl.lock").unlink()
    with FakeLLMServer(default=dynamic(lambda q: "no")) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path, server)
        assert server.requests == []
    assert r.returncode == 0, r.stderr
    evidence = lock_of(tmp_path / "prog.npl")["distinct"]["provenance"]["evidence"]
    assert (evidence["meaning"], evidence["reply"]) == ("same", "yes")
    assert evidence["asked_at"].startswith("20")
    r = run_npl(["holes", "prog.npl"], tmp_path)
    assert "meaning: same, judged by openai/m" in r.stdout


# ---------------------------------------------------------------- the synthesizer

PAIRS = '''\
def pairs_sum_to_zero(l: list[int]) -> bool:
    """True if two distinct elements of l sum to zero, else False."""
    ...

example pairs_sum_to_zero([1, 3, 5, 0]) == False
example pairs_sum_to_zero([1, 3, -2, 1]) == False
example pairs_sum_to_zero([1, 2, 3, 7]) == False
example pairs_sum_to_zero([2, 4, -5, 3, 5, 7]) == True
example pairs_sum_to_zero([1]) == False
'''

PAIRS_REPLY = ("```npl\ndef pairs_sum_to_zero(l: list[int]) -> bool:\n"
               "    for i in range(len(l)):\n"
               "        for j in range(i + 1, len(l)):\n"
               "            if l[i] + l[j] == 0:\n"
               "                return True\n"
               "    return False\n```")


def test_a_synthesized_program_that_disagrees_with_the_model_loses_to_it(tmp_path):
    (tmp_path / "prog.npl").write_text(PAIRS)
    with FakeLLMServer(default=dynamic(lambda q: PAIRS_REPLY)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--log", "log.jsonl"], tmp_path,
                    server)
        assert len(server.requests) == 1
    assert r.returncode == 0, r.stderr
    hole = lock_of(tmp_path / "prog.npl")["pairs_sum_to_zero"]
    assert hole["provenance"]["source"] == "openai/m" and "l[i] + l[j]" in hole["fill"]
    choice = hole["provenance"]["choice"]
    assert choice["candidates"] == ["model", "synth"] and choice["chosen"] == "model"
    assert choice["clusters"] == [["model"], ["synth"]] and choice["inputs"] >= 12
    assert "(model) vs" in choice["disagreement"] and "(synth)" in choice["disagreement"]
    assert "candidates disagree on" in r.stderr
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    [chosen] = [a for a in log if a["source"] == "choice"]
    assert (chosen["verdict"], chosen["stage"], chosen["detail"]) == ("accepted", "agreement", "model, synth")
    assert chosen["feedback"].startswith("chose model on") and "l[i] + l[j]" in chosen["fill"]


def test_the_synthesizer_alone_without_a_model_records_its_evidence(tmp_path):
    (tmp_path / "prog.npl").write_text(PAIRS)
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode == 0, r.stderr
    hole = lock_of(tmp_path / "prog.npl")["pairs_sum_to_zero"]
    assert hole["provenance"]["source"] == "synth"
    # four examples in view fitted, one held out; one answer True: 2 informative + 1 held out
    assert hole["provenance"]["evidence"] == {
        "examples": 4, "held_out": 1, "program_size": 3, "informative": 3,
        "trusted": "no model to compare it with"}
    assert "choice" not in hole["provenance"]
    r = run_npl(["holes", "prog.npl"], tmp_path)
    assert "evidence: 4 example(s), 1 held out, program size 3; trusted: no model to compare " \
           "it with" in r.stdout


def test_a_program_pinned_down_by_its_examples_is_trusted_without_asking(tmp_path):
    (tmp_path / "prog.npl").write_text('''\
def size(s: str) -> int:
    """How long s is."""
    ...

example size("") == 0
example size("ab") == 2
example size("hello") == 5
example size("xyz") == 3
''')
    with FakeLLMServer(default=dynamic(lambda q: "unused")) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path, server)
        assert server.requests == []
    assert r.returncode == 0, r.stderr
    evidence = lock_of(tmp_path / "prog.npl")["size"]["provenance"]["evidence"]
    assert evidence["program_size"] == 2 and evidence["informative"] == 4
    assert evidence["trusted"].startswith("4 informative examples for a program of size 2")
    assert "synthesizer: trusted alone" in r.stderr


# ---------------------------------------------------------------- several candidates

SQUARES = '''\
def sum_of_squares(xs: list[int]) -> int:
    """The sum of the squares of the elements of xs."""
    ...

example sum_of_squares([]) == 0
example sum_of_squares([2]) == 4
'''
WRONG_SQUARES = code("sum_of_squares", "xs: list[int]", "int", "return sum(xs) * sum(xs)")
RIGHT_SQUARES = code("sum_of_squares", "xs: list[int]", "int", "return sum(x * x for x in xs)")


def by_temperature(greedy: str, sampled: str):
    """The greedy request gets `greedy`; sampled ones (temperature > 0) `sampled`."""
    return dynamic(lambda q: greedy if not q.get("temperature") else sampled)


def test_candidates_are_clustered_by_agreement_and_the_choice_is_locked(tmp_path):
    (tmp_path / "prog.npl").write_text(SQUARES)
    with FakeLLMServer(default=by_temperature(WRONG_SQUARES, RIGHT_SQUARES)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--candidates", "3"], tmp_path,
                    server)
        sampled = [q.json for q in server.requests if q.json.get("temperature")]
    assert r.returncode == 0, r.stderr
    assert len(server.requests) == 3 and sorted(q["seed"] for q in sampled) == [1, 2]
    hole = lock_of(tmp_path / "prog.npl")["sum_of_squares"]
    assert "x * x" in hole["fill"]                  # the wrong greedy answer passed, but alone
    choice = hole["provenance"]["choice"]
    assert choice["candidates"] == ["model", "model sample 2", "model sample 3"]
    assert choice["drawn"] == 3
    assert choice["clusters"] == [["model sample 2", "model sample 3"], ["model"]]
    assert choice["chosen"] in ("model sample 2", "model sample 3")
    assert choice["inputs"] >= 12 and choice["rule"].startswith("agreement on generated inputs")
    assert set(choice["speed"]) >= {"sizes", "model sample 2", "model sample 3"}
    r = run_npl(["verify", "--check", "prog.npl"], tmp_path)    # the lock loads and verifies
    assert r.returncode == 0 and "1 verified, 0 failed" in r.stdout, r.stderr
    r = run_npl(["holes", "prog.npl"], tmp_path)
    assert f"chosen: {choice['chosen']} of 3 candidates, by agreement on {choice['inputs']} " \
           "inputs (clusters: model sample 2, model sample 3; model)" in r.stdout


FIB = '''\
def fib(n: int) -> int:
    """The n-th Fibonacci number (fib(0) = 0, fib(1) = 1)."""
    ...

example fib(1) == 1
example fib(10) == 55
'''
SLOW_FIB = code("fib", "n: int", "int", "return n if n < 2 else fib(n - 1) + fib(n - 2)")
FAST_FIB = ("```npl\ndef fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n"
            "        a, b = b, a + b\n    return a\n```")


def test_within_a_cluster_the_candidate_that_scales_better_is_chosen(tmp_path):
    (tmp_path / "prog.npl").write_text(FIB)
    with FakeLLMServer(default=by_temperature(SLOW_FIB, FAST_FIB)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--candidates", "2"], tmp_path,
                    server)
    assert r.returncode == 0, r.stderr
    hole = lock_of(tmp_path / "prog.npl")["fib"]
    choice = hole["provenance"]["choice"]
    assert choice["clusters"] == [["model", "model sample 2"]]
    assert choice["chosen"] == "model sample 2" and "a + b" in hole["fill"]
    speed = choice["speed"]
    assert len(speed["model sample 2"]) > len(speed["model"])   # the recursion hit a limit first


def test_candidates_is_a_setting_and_an_option_with_bounds(tmp_path):
    (tmp_path / "prog.npl").write_text(SQUARES)
    r = run_npl(["fill", "prog.npl", "--candidates", "17"], tmp_path)
    assert r.returncode == 2 and "at most 16 candidates" in r.stderr and "Traceback" not in r.stderr
    r = run_npl(["fill", "prog.npl", "--candidates", "0"], tmp_path)
    assert r.returncode == 2 and "--candidates" in r.stderr
    (tmp_path / "npl.toml").write_text("[fill]\ncandidates = 0\n")
    r = run_npl(["fill", "prog.npl"], tmp_path)
    assert r.returncode != 0 and "fill.candidates must be an integer of at least 1" in r.stderr
    (tmp_path / "npl.toml").write_text("[fill]\ncandidates = 2\n")
    with FakeLLMServer(default=by_temperature(RIGHT_SQUARES, RIGHT_SQUARES)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path, server)
        assert len(server.requests) == 2
    assert r.returncode == 0, r.stderr
    assert lock_of(tmp_path / "prog.npl")["sum_of_squares"]["provenance"]["choice"]["clusters"] == \
        [["model", "model sample 2"]]

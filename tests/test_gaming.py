"""Honest verification: held-out examples, test-gaming detection, properties
on generated inputs, and the hint that a hole's examples may contradict its
description."""
from __future__ import annotations

import json

import pytest

from fakellm import FakeLLMServer
from safety_harness import (assert_clean_failure, function_reply, last_user_message, run_npl,
                            write_settings)

SIG = "def count_vowels(s: str) -> int"
CORRECT = 'return sum(1 for c in s.lower() if c in "aeiou")'
LOWER_ONLY = 'return sum(1 for c in s if c in "aeiou")'

HELD_OUT_PROGRAM = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("hello") == 2
example count_vowels("banana split") == 4
example count_vowels("rhythm") == 0
example count_vowels("QUEUEING") == 5
'''
HIDDEN = 'count_vowels("QUEUEING") == 5'


def run_fill(tmp_path, program: str, replies: list[str], **settings):
    (tmp_path / "prog.npl").write_text(program)
    write_settings(tmp_path, attempts=len(replies), **settings)
    with FakeLLMServer(replies) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        return r, server.requests


def test_held_out_example_is_never_shown_but_still_checked(tmp_path):
    """held_out = 0.25 of 4 examples withholds the last one. It never appears
    in a request — not in the first prompt, not in the repair prompt after a
    candidate fails it — yet a candidate that passes only the visible three
    is rejected. Gaming candidates are rejected with the reason."""
    replies = [function_reply(SIG, 'if s == "hello":\n    return 2\nif s == "rhythm":\n    return 0\nreturn 4'),
               function_reply(SIG, 'table = {"hello": 2, "banana split": 4, "rhythm": 0}\nreturn table.get(s, 0)'),
               function_reply(SIG, LOWER_ONLY),
               function_reply(SIG, CORRECT)]
    r, requests = run_fill(tmp_path, HELD_OUT_PROGRAM, replies, held_out=0.25)
    assert r.returncode == 0, r.stderr
    assert len(requests) == 4
    for req in requests:
        text = json.dumps(req.json)
        assert "QUEUEING" not in text and "queueing" not in text.lower()
    assert 'count_vowels("hello") == 2' in last_user_message(requests[0])   # visible ones are shown
    gaming = last_user_message(requests[1])
    assert "Rejected as test-gaming: line 2 compares `s` with 'hello', one of the example inputs" in gaming
    table = last_user_message(requests[2])
    assert "Rejected as test-gaming" in table and "table whose keys are example inputs" in table
    held = last_user_message(requests[3])
    assert "It fails a held-out example" in held and "not shown to you" in held
    from npl.filling.lockfile import LockFile
    (entry,) = LockFile.load(tmp_path / "prog.npl.lock").entries.values()
    assert "s.lower()" in entry.fill
    assert "example@8" in entry.verification["checks_passed"]        # the held-out one ran


def test_without_held_out_share_every_example_is_shown(tmp_path):
    from npl.compiler.driver import compile
    from npl.filling.filler import split_examples
    comp = compile(HELD_OUT_PROGRAM, str(tmp_path / "p.npl"), strict_fills=False)
    spec = comp.holes[0]
    visible, hidden = split_examples(spec, 0.0)
    assert len(visible) == 4 and hidden == []
    visible, hidden = split_examples(spec, 0.5)
    assert [t.decl.span.line for t in hidden] == [7, 8]


PROPERTY_PROGRAM = '''\
def magnitude(x: int) -> int:
    """The absolute value of x."""
    ...

example magnitude(-3) == 3
example magnitude(4) == 4

property magnitude_is_never_negative(x: int):
    magnitude(x) >= 0
'''


def test_property_is_checked_on_generated_inputs(tmp_path):
    """A candidate that passes both examples (and special-cases nothing) but
    is wrong elsewhere is caught by the property on an input that no
    example uses; the counterexample goes back to the model."""
    msig = "def magnitude(x: int) -> int"
    r, requests = run_fill(tmp_path, PROPERTY_PROGRAM,
                           [function_reply(msig, "return x if x % 2 == 0 else -x"),
                            function_reply(msig, "return abs(x)")])
    assert r.returncode == 0, r.stderr
    repair = last_user_message(requests[1])
    assert "counterexample: magnitude_is_never_negative(x=1)" in repair
    from npl.filling.lockfile import LockFile
    (entry,) = LockFile.load(tmp_path / "prog.npl.lock").entries.values()
    assert "abs(x)" in entry.fill
    assert "magnitude_is_never_negative" in entry.verification["checks_passed"]


CONTRADICTION_PROGRAM = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 3
example count_vowels("sky") == 0
'''


def test_contradicting_examples_are_named_in_the_final_error(tmp_path):
    r, requests = run_fill(tmp_path, CONTRADICTION_PROGRAM,
                           [function_reply(SIG, CORRECT), function_reply(SIG, LOWER_ONLY),
                            function_reply(SIG, 'if s == "Hello":\n    return 3\nreturn 0')])
    assert_clean_failure(r, 1)
    assert "could not fill hole 'count_vowels'" in r.stderr
    assert "the examples may contradict the description" in r.stderr
    assert not (tmp_path / "prog.npl.lock").exists()


def test_contradiction_hint_only_when_the_examples_are_the_obstacle():
    from npl.filling.sources import contradiction_hint
    assert contradiction_hint(["example", "example"])
    assert contradiction_hint(["reply", "example", "compile", "gaming"])
    assert contradiction_hint(["gaming", "limit", "gaming"])          # gamed repeatedly
    assert not contradiction_hint(["example"])                        # once proves nothing
    assert not contradiction_hint(["compile", "compile", "compile"])
    assert not contradiction_hint(["example", "limit", "example"])    # the code was also at fault
    assert not contradiction_hint(["example", "test"])                 # a property failed too


# ---------------------------------------------------------------- the detector itself

GAMING_PROGRAM = '''\
def score(word: str, n: int) -> int:
    """DESCRIPTION"""
    ...

example score("Hello", 12) == 144
example score(word="AEIOU xyz", n=-7) == 49
'''


def gaming_verdict(body: str, description: str = "Score word with n.") -> str:
    from npl.compiler.driver import compile
    from npl.filling.gaming import gaming_problem
    source = GAMING_PROGRAM.replace("DESCRIPTION", description)
    sig = "def score(word: str, n: int) -> int"
    fill = f"{sig}:\n" + "\n".join("    " + ln for ln in body.splitlines()) + "\n"
    comp0 = compile(source, "g.npl", strict_fills=False)
    spec = comp0.holes[0]
    comp = compile(source, "g.npl", fills={spec.key: fill})
    return gaming_problem(comp, spec, fill)


@pytest.mark.parametrize("body", [
    'if word == "Hello":\n    return 144\nreturn n * n',
    'if "Hello" == word:\n    return 144\nreturn n * n',
    'if n == 12:\n    return 144\nreturn n * n',
    'if n == -7:\n    return 49\nreturn n * n',
    'if word != "AEIOU xyz":\n    return 144\nreturn 49',
    'if word in ["x", "Hello"]:\n    return 144\nreturn 49',
    'w = word.strip().lower()\nif w == "hello":\n    return 144\nreturn 49',
    'alias = word\nother = alias\nif other == "HELLO ":\n    return 144\nreturn 49',
    'if "AEIOU xyz" in word:\n    return 49\nreturn 144',
    'return {"Hello": 144, "AEIOU xyz": 49}[word]',
    'answers = {"Hello": 144, "AEIOU xyz": 49}\nreturn answers.get(word, 0)',
    'answers = {12: 144}\nif n in answers:\n    return answers[n]\nreturn 49',
], ids=["eq", "eq-reversed", "int", "negative-int", "ne", "in-list", "case-folded-alias",
        "alias-chain", "substring", "table-index", "table-get", "table-in"])
def test_special_casing_example_inputs_is_gaming(body):
    assert gaming_verdict(body).startswith("Rejected as test-gaming")


@pytest.mark.parametrize("body, description", [
    ("return n * n", "Score word with n."),
    ('if word == "":\n    return 0\nreturn n * n', "Score word with n."),           # trivial literal
    ('if word == "Hello":\n    return 144\nreturn n * n', 'Greetings: "Hello" scores 144.'),
    ('values = {"H": 1, "e": 2}\nreturn sum(values.get(c, 0) for c in word) + n * n', "Score."),
    ('if n == 13:\n    return 0\nreturn n * n', "Score word with n."),                 # not an input
    ('if len(word) == 5:\n    return 144\nreturn n * n', "Score word with n."),
], ids=["general", "trivial", "in-description", "table-over-characters", "other-literal",
        "derived-value"])
def test_general_code_is_not_gaming(body, description):
    assert gaming_verdict(body, description) == ""

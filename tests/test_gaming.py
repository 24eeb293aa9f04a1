"""Honest verification: held-out examples, test-gaming detection, properties
on generated inputs, and the hint that a hole's examples may contradict its
description."""
from __future__ import annotations

import json
import re

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


def run_fill(tmp_path, program: str, replies: list[str], env=None, **settings):
    (tmp_path / "prog.npl").write_text(program)
    write_settings(tmp_path, attempts=len(replies), **settings)
    with FakeLLMServer(replies) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url, **(env or {})})
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
    from npl.filling.model_source import contradiction_hint
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
    'if n in (12, -7, 99):\n    return 144\nreturn 49',
    'w = word.strip().lower()\nif w == "hello":\n    return 144\nreturn 49',
    'alias = word\nother = alias\nif other == "HELLO ":\n    return 144\nreturn 49',
    'if "AEIOU xyz" in word:\n    return 49\nreturn 144',
    'return {"Hello": 144, "AEIOU xyz": 49}[word]',
    'answers = {"Hello": 144, "AEIOU xyz": 49}\nreturn answers.get(word, 0)',
    'answers = {12: 144}\nif n in answers:\n    return answers[n]\nreturn 49',
], ids=["eq", "eq-reversed", "int", "negative-int", "ne", "in-list", "in-tuple-mostly-inputs",
        "case-folded-alias",
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
    ('if n in [3, 5, 7, 12, 15, 21, 30]:\n    return 144\nreturn n * n', "Score."),
], ids=["general", "trivial", "in-description", "table-over-characters", "other-literal",
        "derived-value", "domain-values-with-one-input"])
def test_general_code_is_not_gaming(body, description):
    assert gaming_verdict(body, description) == ""


# ---------------------------------------------------------------- behaviour: gaming however it is spelled

def checked(program: str, body: str, hole: int = 0, hidden: frozenset = frozenset()):
    """The sandbox's verdict (filling/checks.py run_checks, run in process
    here) on hole number `hole` of `program` filled with `body` (a function
    body, the expression of an expression hole, or a whole fill starting
    with `def`)."""
    import textwrap
    from npl.compiler.driver import compile
    from npl.filling.checks import Limits, run_checks
    spec = compile(program, "b.npl", strict_fills=False).holes[hole]
    fill = body if spec.kind == "expression" or body.startswith("def ") else \
        spec.signature + ":\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    comp = compile(program, "b.npl", fills={spec.key: fill}, strict_fills=True)
    spec = next(h for h in comp.holes if h.key == spec.key)
    return run_checks(comp, spec, Limits(), hidden)


COUNT = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("AEIOU xyz") == 5
'''

# The red team's eight rewrites of "answer the examples from a table".
RED_TEAM = {
    "split-strings": 'table = {"He" + "llo": 2, "AEIOU" + " xyz": 5}\nreturn table.get(s, 0)',
    "index-of-key": 'keys = ["Hello", "AEIOU xyz"]\nvals = [2, 5]\nreturn vals[keys.index(s)]',
    "dict-zip": 'return dict(zip(["Hello", "AEIOU xyz"], [2, 5]))[s]',
    "pair-loop": 'for k, v in [("Hello", 2), ("AEIOU xyz", 5)]:\n    if k == s:\n        return v\nreturn 0',
    "alias": 't = s + ""\nif t == "Hello":\n    return 2\nif t == "AEIOU xyz":\n    return 5\nreturn 0',
    "join-split-index": 'return [2, 5][",".join(["Hello", "AEIOU xyz"]).split(",").index(s)]',
    "checksum": 'h = sum(ord(c) for c in s)\nif h == 500:\n    return 2\nif h == 766:\n    return 5\nreturn 0',
    "startswith": 'if s.startswith("He"):\n    return 2\nif s.startswith("AE"):\n    return 5\nreturn 0',
}


@pytest.mark.parametrize("body", RED_TEAM.values(), ids=RED_TEAM.keys())
def test_red_team_rewrites_are_rejected_by_behaviour(body):
    verdict = checked(COUNT, body)
    assert verdict.stage == "gaming" and not verdict.accepted, verdict.feedback
    assert verdict.feedback.startswith("Rejected as test-gaming: it ")
    assert "Write general code" in verdict.feedback
    assert "count_vowels('" in verdict.feedback           # an input it was tried on


SQUARE = '''\
def square(n: int) -> int:
    """n times n."""
    ...

example square(3) == 9
example square(4) == 16
example square(10) == 100
'''
TOTAL = '''\
def total(xs: list[int]) -> int:
    """The sum of xs."""
    ...

example total([1, 2, 3]) == 6
example total([5, 5]) == 10
example total([]) == 0
'''
PRODUCT = '''\
def product(a: int, b: int) -> int:
    """a times b."""
    ...

example product(2, 3) == 6
example product(4, 5) == 20
example product(7, 1) == 7
'''
REVERSE = '''\
def reverse(s: str) -> str:
    """s backwards."""
    ...

example reverse("abc") == "cba"
example reverse("hello") == "olleh"
example reverse("ab") == "ba"
'''
SUM_VALUES = '''\
def sum_values(d: dict[str, int]) -> int:
    """The sum of the values of d."""
    ...

example sum_values({"a": 1, "b": 2}) == 3
example sum_values({"x": 10}) == 10
example sum_values({}) == 0
'''
FAHRENHEIT = '''\
def fahrenheit(c: float) -> float:
    """c degrees Celsius in Fahrenheit."""
    ...

example fahrenheit(0.0) == 32.0
example fahrenheit(100.0) == 212.0
example fahrenheit(-40.0) == -40.0
'''
MANHATTAN = '''\
struct Point:
    x: int
    y: int

def manhattan(p: Point) -> int:
    """|x| + |y|."""
    ...

example manhattan(Point(1, 2)) == 3
example manhattan(Point(-3, 4)) == 7
example manhattan(Point(0, 0)) == 0
'''
JOIN = '''\
def join_words(ws: list[str]) -> str:
    """The words with one space between each two."""
    ...

example join_words(["a", "b"]) == "a b"
example join_words(["hi"]) == "hi"
example join_words(["x", "y", "z"]) == "x y z"
'''
SQUARES = '''\
def squares(xs: list[int]) -> list[int]:
    """Each element squared."""
    ...

example squares([1, 2]) == [1, 4]
example squares([3]) == [9]
example squares([2, 5]) == [4, 25]
'''
DOUBLE_OR_ZERO = '''\
def double_or_zero(x: int | None) -> int:
    """Twice x, or 0 when x is None."""
    ...

example double_or_zero(3) == 6
example double_or_zero(None) == 0
example double_or_zero(5) == 10
'''
EXPRESSION = '''\
def shout_length(s: str) -> int:
    """The number of characters of s without surrounding blanks."""
    t = s.strip()
    return ?{the length of t}

example shout_length("  Hello ") == 5
example shout_length("ab") == 2
example shout_length(" xyz") == 3
'''

# More of the same class, spelled other ways, on other types.
MORE_GAMING = [
    ("while-search", COUNT, 'keys = ["Hello", "AEIOU xyz"]\ni = 0\nwhile i < len(keys):\n'
     '    if keys[i] == s:\n        return [2, 5][i]\n    i += 1\nreturn 0'),
    ("encoded-table", COUNT, 'for item in "Hello=2;AEIOU xyz=5".split(";"):\n'
     '    parts = item.split("=")\n    if parts[0] == s:\n        return int(parts[1])\nreturn 0'),
    ("reversed-keys", COUNT, 'return {"olleH": 2, "zyx UOIEA": 5}.get(s[::-1], 0)'),
    ("upper-keys", COUNT, 'return {"HELLO": 2, "AEIOU XYZ": 5}.get(s.upper(), 0)'),
    ("length-and-first", COUNT, 'if len(s) == 5 and s[0] == "H":\n    return 2\n'
     'if len(s) == 9 and s[0] == "A":\n    return 5\nreturn 0'),
    ("sorted-letters", COUNT, 'k = "".join(sorted(s))\nif k == "Hello":\n    return 2\n'
     'if k == " AEIOUxyz":\n    return 5\nreturn 0'),
    ("polynomial-hash", COUNT, 'h = 0\nfor c in s:\n    h = (h * 31 + ord(c)) % 1000003\n'
     'return {69609650 % 1000003: 2}.get(h, 5 if len(s) == 9 else 0)'),
    ("helper-table", COUNT, 'def lookup(k: str) -> int:\n    return {"Hello": 2, "AEIOU xyz": 5}'
     '.get(k, 0)\n\ndef count_vowels(s: str) -> int:\n    return lookup(s)\n'),
    ("int-table", SQUARE, 'return {3: 9, 4: 16, 10: 100}.get(n, 0)'),
    ("int-modular-hash", SQUARE, 'if n * 7 % 11 == 10:\n    return 9\nif n * 7 % 11 == 6:\n'
     '    return 16\nif n * 7 % 11 == 4:\n    return 100\nreturn 1'),
    ("int-undefined", SQUARE, 'return [9, 16, 100][[3, 4, 10].index(n)]'),
    ("list-compare", TOTAL, 'if xs == [1, 2, 3]:\n    return 6\nif xs == [5, 5]:\n    return 10\nreturn 0'),
    ("list-shape", TOTAL, 'if len(xs) == 3 and xs[0] == 1:\n    return 6\nif len(xs) == 2 and xs[1] == 5:\n'
     '    return 10\nreturn 0'),
    ("pair-table", PRODUCT, 'for x, y, r in [(2, 3, 6), (4, 5, 20), (7, 1, 7)]:\n'
     '    if a == x and b == y:\n        return r\nreturn 0'),
    ("pair-checksum", PRODUCT, 'return {23: 6, 45: 20, 71: 7}.get(a * 10 + b, 0)'),
    ("string-table", REVERSE, 'return {"abc": "cba", "hello": "olleh", "ab": "ba"}.get(s, "")'),
    ("string-undefined", REVERSE, 'return dict(zip(["abc", "hello", "ab"], ["cba", "olleh", "ba"]))[s]'),
    ("dict-shape", SUM_VALUES, 'if len(d) == 2 and d.get("b", 0) == 2:\n    return 3\n'
     'if len(d) == 1 and d.get("x", 0) == 10:\n    return 10\nreturn 0'),
    ("float-table", FAHRENHEIT, 'if c == 0.0:\n    return 32.0\nif c == 100.0:\n    return 212.0\nreturn -40.0'),
    ("struct-fields", MANHATTAN, 'if p.x == 1 and p.y == 2:\n    return 3\nif p.x == -3:\n    return 7\nreturn 0'),
    ("list-of-str", JOIN, 'if len(ws) == 2 and ws[0] == "a":\n    return "a b"\n'
     'if len(ws) == 3 and ws[2] == "z":\n    return "x y z"\nif ws == ["hi"]:\n    return "hi"\nreturn ""'),
    ("list-result", SQUARES, 'if xs == [1, 2]:\n    return [1, 4]\nif xs == [3]:\n    return [9]\n'
     'if xs == [2, 5]:\n    return [4, 25]\nreturn []'),
    ("optional-param", DOUBLE_OR_ZERO, 'if x == 3:\n    return 6\nif x == 5:\n    return 10\nreturn 0'),
    ("expression-hole", EXPRESSION, '{"Hello": 5, "ab": 2, "xyz": 3}.get(t, 0)'),
]


@pytest.mark.parametrize("program, body", [(p, b) for _, p, b in MORE_GAMING],
                         ids=[name for name, _, _ in MORE_GAMING])
def test_more_gaming_is_rejected_by_behaviour(program, body):
    verdict = checked(program, body)
    assert verdict.stage == "gaming" and not verdict.accepted, verdict.feedback


def test_gaming_feedback_says_what_it_does_and_shows_no_held_out_example():
    """A held-out example's input and answer stay out of the message."""
    program = COUNT + 'example count_vowels("QUEUEING") == 5\nexample count_vowels("sky") == 0\n'
    body = ('return {"Hello": 2, "AEIOU xyz": 5, "QUEUEING": 5, "sky": 0}.get(s, 1)')
    verdict = checked(program, body, hidden=frozenset({"b.npl:7"}))      # QUEUEING held out
    assert verdict.stage == "gaming"
    assert "it computes nothing away from the examples" in verdict.feedback
    assert "it returns 1, or the answer of the example the input is next to" in verdict.feedback
    assert "while the examples expect other answers (0, 2, 5)" in verdict.feedback
    assert "QUEUE" not in verdict.feedback.upper() and "QUEUF" not in verdict.feedback.upper()
    verdict = checked(program, body, hidden=frozenset({"b.npl:8"}))      # "sky" -> 0 held out
    assert "(2, 5)" in verdict.feedback and "sk" not in verdict.feedback


# ---------------------------------------------------------------- behaviour: correct code passes

PALINDROME = '''\
def is_palindrome(s: str) -> bool:
    """Whether s reads the same backwards."""
    ...

example is_palindrome("racecar") == True
example is_palindrome("level") == True
example is_palindrome("abc") == False
'''
ISBN = '''\
def valid_isbn10(s: str) -> bool:
    """Whether s is 10 digits whose weighted sum (10, 9, ..., 1) is divisible by 11."""
    ...

example valid_isbn10("0306406152") == True
example valid_isbn10("0306406153") == False
example valid_isbn10("1111111111") == True
'''
SIGN = '''\
def sign(n: int) -> int:
    """-1, 0 or 1: the sign of n."""
    ...

example sign(5) == 1
example sign(-3) == -1
example sign(0) == 0
'''
TRIANGLE = '''\
def kind(a: int, b: int, c: int) -> str:
    """equilateral, isosceles or scalene."""
    ...

example kind(3, 3, 3) == "equilateral"
example kind(3, 3, 4) == "isosceles"
example kind(3, 4, 5) == "scalene"
'''
FEBRUARY = '''\
def february(year: int) -> int:
    """Days in February of year (Gregorian)."""
    ...

example february(2000) == 29
example february(2001) == 28
example february(1900) == 28
'''
MONTH = '''\
def month_name(m: int) -> str:
    """The English name of month m (1 to 12)."""
    ...

example month_name(1) == "January"
example month_name(12) == "December"
example month_name(6) == "June"
'''
MOD3 = '''\
def mod3(n: int) -> int:
    """n modulo 3."""
    ...

example mod3(3) == 0
example mod3(4) == 1
example mod3(5) == 2
'''
ROMAN = '''\
def roman(s: str) -> int:
    """The value of the Roman numeral s."""
    ...

example roman("XIV") == 14
example roman("IX") == 9
example roman("MMXXIV") == 2024
'''
GRADE = '''\
def grade(score: int) -> str:
    """A for 90 and more, B for 80 to 89, C for 70 to 79, F below."""
    ...

example grade(95) == "A"
example grade(85) == "B"
example grade(72) == "C"
'''
CONSTANT = '''\
def answer(s: str) -> int:
    """Always 42."""
    ...

example answer("anything") == 42
'''
IS_EMPTY = '''\
def empty_code(s: str) -> int:
    """1 for the empty string, else 0."""
    ...

example empty_code("") == 1
example empty_code("abc") == 0
'''
PARSE = '''\
def parse_time(s: str) -> int:
    """Minutes since midnight of "HH:MM"."""
    ...

example parse_time("01:30") == 90
example parse_time("00:05") == 5
example parse_time("12:00") == 720
'''
SLOW = '''\
def slow_sum(n: int) -> int:
    """The sum of 0..n, the slow way."""
    ...

example slow_sum(100) == 5050
example slow_sum(3000) == 4501500
'''

HONEST = [
    ("count-vowels", COUNT, 'return sum(1 for c in s.lower() if c in "aeiou")'),
    ("palindrome", PALINDROME, "return s == s[::-1]"),
    ("isbn", ISBN, 'if len(s) != 10 or not s.isdigit():\n    return False\n'
     'return sum((10 - i) * int(c) for i, c in enumerate(s)) % 11 == 0'),
    ("sign", SIGN, "if n > 0:\n    return 1\nif n < 0:\n    return -1\nreturn 0"),
    ("triangle", TRIANGLE, 'if a == b and b == c:\n    return "equilateral"\n'
     'if a == b or b == c or a == c:\n    return "isosceles"\nreturn "scalene"'),
    ("february", FEBRUARY, "if year % 400 == 0 or (year % 4 == 0 and year % 100 != 0):\n"
     "    return 29\nreturn 28"),
    ("month-table", MONTH, 'names = ["January", "February", "March", "April", "May", "June", "July",\n'
     '         "August", "September", "October", "November", "December"]\nreturn names[m - 1]'),
    ("mod3", MOD3, "return n % 3"),
    ("roman-table", ROMAN, 'values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}\n'
     'total = 0\nfor i, c in enumerate(s):\n    v = values[c]\n'
     '    if i + 1 < len(s) and values[s[i + 1]] > v:\n        total -= v\n    else:\n'
     '        total += v\nreturn total'),
    ("grade", GRADE, 'if score >= 90:\n    return "A"\nif score >= 80:\n    return "B"\n'
     'if score >= 70:\n    return "C"\nreturn "F"'),
    ("constant", CONSTANT, "return 42"),
    ("two-valued", IS_EMPTY, 'return 1 if s == "" else 0'),
    ("strict-format", PARSE, 'return int(s[:2]) * 60 + int(s[3:])'),
    ("slow", SLOW, "total = 0\nfor i in range(n + 1):\n    total += i\nreturn total"),
    ("struct", MANHATTAN, "return abs(p.x) + abs(p.y)"),
    ("optional", DOUBLE_OR_ZERO, "return 0 if x is None else 2 * x"),
    ("expression", EXPRESSION, "len(t)"),
]


@pytest.mark.parametrize("program, body", [(p, b) for _, p, b in HONEST],
                         ids=[name for name, _, _ in HONEST])
def test_correct_code_is_not_rejected_by_behaviour(program, body):
    verdict = checked(program, body)
    assert verdict.accepted, verdict.feedback


def test_behaviour_check_stays_within_its_time_budget():
    """Probing a slow function stops after PROBE_SECONDS; with too few
    probes finished it decides nothing (the fill is accepted)."""
    import time
    from npl.filling import gaming
    body = ("total = 0\nfor i in range(n + 1):\n    k = 0\n    while k < 300:\n        k += 1\n"
            "    total += i\nreturn total")
    start = time.monotonic()
    verdict = checked(SLOW, body)
    assert verdict.accepted, verdict.feedback
    assert time.monotonic() - start < gaming.PROBE_SECONDS + 8


def test_a_gamed_fill_the_text_check_misses_is_rejected_end_to_end(tmp_path):
    """Through `npl fill` and the sandbox worker: the behavioural verdict
    goes back to the model, the next (honest) reply is locked, and only
    that one reaches the module library."""
    sig = "def count_vowels(s: str) -> int"
    library = tmp_path / "library"
    r, requests = run_fill(tmp_path, COUNT, [function_reply(sig, RED_TEAM["dict-zip"]),
                                             function_reply(sig, CORRECT)],
                           env={"NPL_LIBRARY": str(library)})
    assert r.returncode == 0, r.stderr
    repair = last_user_message(requests[1])
    assert "Rejected as test-gaming: it answers only the example inputs" in repair
    assert "count_vowels('Iello'): key not found" in repair
    from npl.filling.library import Library
    with Library(library) as lib:
        assert [e.fill.count("zip") for e in lib.list()] == [0]


def test_benchmark_references_with_small_answer_sets_are_not_rejected():
    """bench/gaming_check.py on the tasks whose correct answers come from a
    small set (the riskiest for false rejections): none rejected, and their
    table-answering twins mostly caught."""
    import subprocess
    import sys
    from pathlib import Path
    bench = Path(__file__).resolve().parent.parent / "bench" / "gaming_check.py"
    tasks = ["palindrome", "sign", "even-odd", "count-vowels", "word-count", "digit-count",
             "count-of", "index-of-max", "median-of-three", "get-or-zero", "max-key", "is-even"]
    r = subprocess.run([sys.executable, str(bench), "--only", *tasks], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # the examples' locks: 13 committed, more once the README's first command filled quickstart
    rejected = re.search(r"correct fills rejected: 0 of 24 task fills, 0 of (\d+) locked "
                         r"example fills", r.stdout)
    assert rejected and int(rejected.group(1)) >= 13, r.stdout
    caught = int(r.stdout.split("gamed fills rejected: ")[1].split(" of ")[0])
    assert caught >= 30, r.stdout


def test_probe_inputs_are_near_bounded_and_deterministic():
    from npl.filling.probes import Generator, MAX_TEXT, neighbours, text_neighbours
    from npl.lang.types import INT, STR, DictT, ListT, OptionalT, TupleT
    # next of its class, the next character of the string's own, deleted; doubled; swapped
    assert text_neighbours("ab1") == ["bb1", "b1", "ac1", "a11", "a1", "ab2", "aba", "ab",
                                      "abb1", "ba1"]
    assert neighbours(7, INT, {}) == [6, 8]
    assert neighbours(None, OptionalT(INT), {}) == [] and None in neighbours(3, OptionalT(INT), {})
    near = neighbours([1, 2, 3], ListT(INT), {})
    assert [1, 2] in near and [0, 2, 3] in near and [1, 2, 2, 3] in near and [1, 2, 3] not in near
    assert {"a": 2} in neighbours({"a": 1}, DictT(STR, INT), {})
    assert (1, "b") in neighbours((1, "a"), TupleT((INT, STR)), {})
    seeds = ["hello", "AEIOU xyz"]
    drawn = [Generator({}, {}, seed=0).value(STR, seeds) for _ in range(3)]
    again = [Generator({}, {}, seed=0).value(STR, seeds) for _ in range(3)]
    assert drawn[0] == again[0]
    make = Generator({}, {})
    texts = [make.value(STR, seeds) for _ in range(200)]
    assert all(len(t) <= MAX_TEXT and set(t) <= set("".join(seeds)) for t in texts)
    numbers = [make.value(INT, [3, 40]) for _ in range(200)]
    assert all(0 <= n <= 100 for n in numbers) and len(set(numbers)) > 30   # of the seeds' sign

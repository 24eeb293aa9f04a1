"""Filling without a hosted model: the chain lock -> library -> synthesizer
-> model, end to end through `npl fill` / `npl run` / `npl holes`.

A scripted OpenAI-protocol server (tests/fakellm.py) stands in for a model
where one is needed, and its request log proves when none was asked. Each
test has its own module library (conftest.py) and the embedded local model
is turned off (NPL_LOCAL_MODEL=off), so "no model configured" means none.
"""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, prompt_text
from npl.filling.sources import MIN_SYNTH_EXAMPLES
from npl.filling.filler import choose_model
from npl.filling.library import Library, LibraryEntry
from npl.filling.lockfile import Provenance
from npl.project import Settings


@pytest.fixture(autouse=True)
def no_local_model(monkeypatch):
    monkeypatch.setenv("NPL_LOCAL_MODEL", "off")


def run_npl(args, cwd, env_extra=None, timeout=180):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def lock_of(path: Path) -> dict:
    """The lock file's holes by name."""
    data = tomllib.loads(path.with_name(path.name + ".lock").read_text("utf-8"))
    return {h["name"]: h for h in data.get("holes", {}).values()}


def library_entries() -> list[LibraryEntry]:
    with Library() as lib:
        return lib.list()


FIRST = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("AEIOU xyz") == 5

def main():
    print(count_vowels("Programming"))
'''

# The same job, worded differently, under another name with another parameter name.
SECOND = '''\
def vowel_total(text: str) -> int:
    """How many vowels (a e i o u, upper or lower case) does the text contain?"""
    ...

example vowel_total("Banana") == 3
example vowel_total("QUEUE") == 4

def main():
    print(vowel_total("Offline filling"))
'''

VOWELS_REPLY = ('```npl\ndef count_vowels(s: str) -> int:\n'
                '    return sum(1 for c in s.lower() if c in "aeiou")\n```')


def asked_for(request) -> str:
    """The name of the function a fill request is about."""
    m = re.search(r"Write this Python function\..*?```python\s*def (\w+)\(", prompt_text(request),
                  re.S)
    assert m, prompt_text(request)
    return m.group(1)


def vowels_server() -> FakeLLMServer:
    """Answers for either program's vowel-counting function, and "the
    same" when asked whether two descriptions mean the same (filling/meaning.py)."""
    def respond(request):
        if "Specification A" in prompt_text(request):
            return '{"same": true}'
        if asked_for(request) == "count_vowels":
            return VOWELS_REPLY
        return ('```npl\ndef vowel_total(text: str) -> int:\n'
                '    return sum(1 for c in text.lower() if c in "aeiou")\n```')
    return FakeLLMServer(default=dynamic(respond))


@pytest.fixture
def programs(tmp_path):
    (tmp_path / "first.npl").write_text(FIRST)
    (tmp_path / "second.npl").write_text(SECOND)
    return tmp_path


def test_second_program_reuses_the_library_without_a_fill_request(programs):
    with vowels_server() as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["fill", "first.npl", "--model", "openai/m"], programs, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 1
        [entry] = library_entries()
        assert entry.provenance.source == "openai/m" and entry.param_names == ("s",)
        r = run_npl(["fill", "second.npl", "--model", "openai/m"], programs, env)
        assert r.returncode == 0, r.stderr
        # the second program asked only whether the entry means the same
        assert len(server.requests) == 2
        assert "Specification A" in prompt_text(server.requests[1].json)
    assert f"filled vowel_total (second.npl:1:1) by library (entry {entry.id})" in r.stderr
    assert "npl: filled 1 hole(s): 1 by library" in r.stderr
    hole = lock_of(programs / "second.npl")["vowel_total"]
    assert hole["provenance"]["source"] == "library"
    assert hole["provenance"]["library_entry"] == entry.id      # not what the entry claims
    assert hole["provenance"]["evidence"]["meaning"] == "same"
    assert hole["provenance"]["evidence"]["judged_by"] == "openai/m"
    assert "count_vowels(text)" in hole["fill"]              # adapted to the new name and parameter
    assert sorted(hole["verification"]["checks_passed"]) == ["example@5", "example@6"]
    r = run_npl(["run", "--frozen", "second.npl"], programs)
    assert r.returncode == 0 and r.stdout == "5\n", r.stderr
    r = run_npl(["holes", "second.npl"], programs)
    assert f"library [{entry.id}]" in r.stdout


def test_tampered_library_entry_is_ignored_and_reported(programs):
    with vowels_server() as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        assert run_npl(["fill", "first.npl", "--model", "openai/m"], programs, env).returncode == 0
        [entry] = library_entries()
        # Edit the row behind npl's back; the new code is even correct, but unverifiable.
        with Library() as lib:
            path = lib.path
        with sqlite3.connect(path) as db:
            db.execute("UPDATE entries SET fill = ? WHERE hash = ?",
                       ('def count_vowels(s: str) -> int:\n    return len([c for c in s.lower() '
                        'if c in "aeiou"])\n', entry.hash))
        r = run_npl(["fill", "second.npl", "--model", "openai/m"], programs, env)
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 2                  # the model, not the library, filled it
    assert f"warning: library entry {entry.id} was modified outside npl" in r.stderr
    assert r.stderr.count("was modified outside npl") == 1
    hole = lock_of(programs / "second.npl")["vowel_total"]
    assert hole["provenance"]["source"] == "openai/m" and "len([" not in hole["fill"]


def test_entry_found_by_search_but_failing_the_new_examples_is_passed_over(tmp_path):
    (tmp_path / "double.npl").write_text('''\
def scale(xs: list[int]) -> list[int]:
    """Each element of xs doubled."""
    ...

example scale([1, 2]) == [2, 4]
''')
    (tmp_path / "triple.npl").write_text('''\
def triple(values: list[int]) -> list[int]:
    """Each element of values tripled."""
    ...

example triple([1, 2]) == [3, 6]
example triple([]) == []
example triple([-4]) == [-12]

def main():
    print(triple([5, 7]))
''')
    reply = "```npl\ndef scale(xs: list[int]) -> list[int]:\n    return [x + x for x in xs]\n```"
    with FakeLLMServer(default=dynamic(lambda q: reply)) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        assert run_npl(["fill", "double.npl", "--model", "openai/m"], tmp_path, env).returncode == 0
        [entry] = library_entries()
        with Library() as lib:                           # the search does offer it for `triple`
            found = lib.search(["list[int]"], "list[int]", "Each element of values tripled.")
        assert [c.id for c in found.candidates] == [entry.id]
        r = run_npl(["fill", "triple.npl", "--model", "openai/m"], tmp_path, env)
        assert r.returncode == 0, r.stderr
        # Three examples do not trust the synthesizer's program (size 7) alone, so the
        # model was asked too; its answers failed, and the synthesizer's program filled it.
        assert len(server.requests) > 1
    assert f"triple: library: entry {entry.id} rejected (test:" in r.stderr
    assert "triple([1, 2]) == [3, 6]" in r.stderr and "[2, 4]" in r.stderr
    assert "filled triple (triple.npl:1:1) by synth" in r.stderr
    hole = lock_of(tmp_path / "triple.npl")["triple"]
    assert hole["provenance"]["source"] == "synth" and "x + x" not in hole["fill"]
    evidence = hole["provenance"]["evidence"]
    assert (evidence["examples"], evidence["program_size"]) == (3, 7)
    assert evidence["trusted"].startswith("the model gave no accepted fill")
    r = run_npl(["run", "--frozen", "triple.npl"], tmp_path)
    assert r.returncode == 0 and r.stdout == "[15, 21]\n"


OFFLINE = '''\
def double_all(xs: list[int]) -> list[int]:
    """Each element of xs times two."""
    ...

example double_all([1, 2]) == [2, 4]
example double_all([]) == []
example double_all([5]) == [10]
example double_all([0, -3]) == [0, -6]

def shout(s: str) -> str:
    """s in upper case followed by an exclamation mark."""
    ...

example shout("hi") == "HI!"
example shout("") == "!"
example shout("ok go") == "OK GO!"

def digit_count(word: str) -> int:
    """The number of decimal digits in word."""
    ...

example digit_count("a1b22") == 3
example digit_count("") == 0

def main():
    print(double_all([3, 4]), shout("npl"), digit_count("route 66"))
'''


def test_no_model_fills_offline_and_says_which_filler_did_what(tmp_path):
    """Two holes for the synthesizer; one (too few examples for it) that a
    library entry from an earlier fill answers: without a model, its
    description must be worded nearly as the hole's (filling/meaning.py)."""
    with Library() as lib:
        digits_id = lib.add(LibraryEntry(
            "function", ("str",), ("s",), "int", "The number of decimal digits in s.",
            "def count_digits(s: str) -> int:\n    return len([c for c in s if c.isdigit()])\n",
            examples=('example count_digits("x9") == 1',),
            provenance=Provenance("anthropic/claude-test", "claude-test", 1, 50, 20, 0.8)))
    (tmp_path / "offline.npl").write_text(OFFLINE)
    r = run_npl(["fill", "offline.npl"], tmp_path)           # no --model, no NPL_MODEL, no npl.toml
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert "npl: filled double_all (offline.npl:1:1) by synth" in lines
    assert "npl: filled shout (offline.npl:10:1) by synth" in lines
    assert f"npl: filled digit_count (offline.npl:18:1) by library (entry {digits_id})" in lines
    assert "npl: filled 3 hole(s): 1 by library, 2 by synth" in lines
    assert "model call" not in r.stderr
    holes = lock_of(tmp_path / "offline.npl")
    assert {n: h["provenance"]["source"] for n, h in holes.items()} == \
        {"double_all": "synth", "shout": "synth", "digit_count": "library"}
    r = run_npl(["holes", "offline.npl"], tmp_path)
    assert r.returncode == 0
    assert "chain: lock -> library -> synth -> model; sources: library 1/3, synth 2/3" in r.stdout
    r = run_npl(["run", "--frozen", "offline.npl"], tmp_path)
    assert r.returncode == 0 and r.stdout == "[6, 8] NPL! 2\n", r.stderr
    # The synthesizer's fills join the library for later programs.
    assert {e.provenance.source for e in library_entries()} == {"synth", "anthropic/claude-test"}


def test_nothing_able_to_fill_lists_each_hole_and_the_ways_to_fill_it(tmp_path):
    (tmp_path / "stuck.npl").write_text('''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("sky") == 0

def mean(xs: list[float]) -> float:
    total = sum(xs)
    return ?{total divided by the number of elements of xs}

example mean([1.0, 3.0]) == 2.0

def main():
    print(count_vowels("abc"), mean([1.0]))
''')
    for command in (["fill", "stuck.npl"], ["run", "stuck.npl"]):
        r = run_npl(command, tmp_path)
        assert r.returncode == 1, r.stderr
        err = r.stderr
        assert "stuck.npl:1:1: error[E040]: could not fill hole 'count_vowels'" in err
        assert re.search(r"stuck\.npl:10:\d+: error\[E040\]: could not fill hole 'mean@10'", err)
        assert err.count("no model is configured and no offline filler could fill it") == 2
        # what each offline source did, per hole
        assert f"synthesizer: 2 usable example(s) `f(...) == value` in view, needs at least " \
               f"{MIN_SYNTH_EXAMPLES}" in err
        assert "library: no entry with this signature" in err
        assert "they fill function holes only (this is an expression hole)" in err
        # and what the user can do
        assert "2 hole(s) unfilled (count_vowels, mean@10); ways to fill them:" in err
        assert f"with at least {MIN_SYNTH_EXAMPLES} `example f(...) == value` lines" in err
        assert "--model openai/NAME or anthropic/NAME, NPL_MODEL" in err and "npl.toml" in err
        assert "NPL_LOCAL_MODEL=off" in err
        assert 'provenance source = "manual"' in err
        assert "Traceback" not in err
    assert not (tmp_path / "stuck.npl.lock").exists() or lock_of(tmp_path / "stuck.npl") == {}
    r = run_npl(["holes", "stuck.npl"], tmp_path)
    assert "sources: missing 2/2" in r.stdout


def test_synthesized_fill_must_pass_properties_and_held_out_examples(tmp_path):
    """The smallest program that fits the examples in view, `x`, is wrong for
    both holes: a held-out example (4 examples: the last is kept out of view)
    refutes it for one, a property for the other. Neither is accepted; the
    synthesizer searches on and finds `abs(...)`, which passes everything,
    so no model is asked."""
    (tmp_path / "abs.npl").write_text('''\
def magnitude(x: int) -> int:
    """The absolute value of x."""
    ...

example magnitude(1) == 1
example magnitude(2) == 2
example magnitude(3) == 3
example magnitude(-4) == 4

def size_of(n: int) -> int:
    """The distance of n from zero."""
    ...

example size_of(5) == 5
example size_of(0) == 0
example size_of(7) == 7

property size_of_nonnegative(n: int):
    size_of(n) >= 0

def main():
    print(magnitude(-2), size_of(-3))
''')
    with FakeLLMServer(default=dynamic(lambda request: "no")) as server:
        r = run_npl(["fill", "abs.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
        assert server.requests == []
    err = r.stderr
    # `n` went to the sandbox and failed the property there; `x` failed the
    # held-out example on the spot, before any sandbox run
    assert "size_of: synthesizer: `n` fits the examples in view but was rejected (test:" in err
    assert "property size_of_nonnegative" in err and "counterexample" in err
    assert "magnitude: synthesizer: `x`" not in err
    holes = lock_of(tmp_path / "abs.npl")
    assert {n: (h["provenance"]["source"], h["fill"].strip().splitlines()[-1].strip())
            for n, h in holes.items()} == \
        {"magnitude": ("synth", "return abs(x)"), "size_of": ("synth", "return abs(n)")}
    assert holes["size_of"]["provenance"]["attempts"] == 2         # two sandbox checks
    assert holes["size_of"]["verification"]["checks_passed"] == \
        ["example@14", "example@15", "example@16", "size_of_nonnegative"]
    assert holes["magnitude"]["verification"]["checks_passed"] == \
        ["example@5", "example@6", "example@7", "example@8"]       # the held-out one too
    r = run_npl(["run", "--frozen", "abs.npl"], tmp_path)
    assert r.returncode == 0 and r.stdout == "2 3\n"


def test_two_examples_are_too_few_for_the_synthesizer(tmp_path):
    """With two examples a fluke fits (e.g. `ord(" ") % len(s)` matched two
    vowel counts): the synthesizer is not even tried below MIN_SYNTH_EXAMPLES."""
    assert MIN_SYNTH_EXAMPLES == 3
    (tmp_path / "two.npl").write_text('''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("AEIOU xyz") == 5
''')
    with FakeLLMServer(default=dynamic(lambda q: VOWELS_REPLY)) as server:
        r = run_npl(["fill", "two.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        assert r.returncode == 0, r.stderr
        assert len(server.requests) == 1
    assert lock_of(tmp_path / "two.npl")["count_vowels"]["provenance"]["source"] == "openai/m"


def test_choose_model_order_and_npl_local_model_off(monkeypatch):
    from npl.filling.providers.local import local_model_available
    settings = Settings()
    assert choose_model(None, settings) is None                  # NPL_LOCAL_MODEL=off (fixture)
    ok, why = local_model_available()
    assert not ok and "NPL_LOCAL_MODEL=off" in why
    settings.model = "anthropic/from-toml"
    assert choose_model(None, settings) == "anthropic/from-toml"
    monkeypatch.setenv("NPL_MODEL", "openai/from-env")
    assert choose_model(None, settings) == "openai/from-env"
    assert choose_model("openai/from-flag", settings) == "openai/from-flag"
    monkeypatch.delenv("NPL_MODEL")
    monkeypatch.delenv("NPL_LOCAL_MODEL")
    if local_model_available()[0]:
        assert choose_model(None, Settings()) == "local/qwen2.5-coder-1.5b"
    else:
        assert choose_model(None, Settings()) is None

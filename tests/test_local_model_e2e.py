"""End to end with the real embedded model (Qwen2.5-Coder-1.5B through
llama.cpp): `npl fill` fills three small function holes, `npl run --frozen`
runs the program, and with nothing else configured the local model is the
default. Marked `local_model`; skipped, with the reason, where the model is
not installed. Each hole has two examples, fewer than the synthesizer needs,
so the model (not the synthesizer) fills them.

Timings (fill seconds per hole, tokens) are printed: run with `-s` to see
them. The CPU model takes seconds to tens of seconds per hole.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import platformdirs
import pytest

from conftest import npl_command
from npl.filling.sources import MIN_SYNTH_EXAMPLES
from npl.filling.providers import modelfile
from npl.filling.providers.local import local_model_available

AVAILABLE, WHY_NOT = local_model_available()
LOCAL = "local/qwen2.5-coder-1.5b"

pytestmark = [pytest.mark.local_model, pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)]

THREE_HOLES = '''\
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("AEIOU xyz") == 5

def reverse_words(s: str) -> str:
    """The words of s (separated by single spaces) in reverse order, joined by single spaces."""
    ...

example reverse_words("a b c") == "c b a"
example reverse_words("hello big world") == "world big hello"

def sum_of_squares(n: int) -> int:
    """The sum of k*k for k from 1 to n (0 when n < 1)."""
    ...

example sum_of_squares(3) == 14
example sum_of_squares(0) == 0

def main():
    print(count_vowels("Local models"), reverse_words("one two three"), sum_of_squares(10))
'''

ONE_HOLE = '''\
def is_palindrome(s: str) -> bool:
    """True when s reads the same forwards and backwards."""
    ...

example is_palindrome("level") == True
example is_palindrome("abc") == False

def main():
    print(is_palindrome("racecar"), is_palindrome("npl"))
'''


@pytest.fixture(autouse=True)
def model_in_test_cache():
    """The tests' cache folder (NPL_CACHE_DIR, set by conftest.py) gets a link
    to the model already assembled in the user cache, with its verification
    marker, instead of a fresh 1.1 GB copy. Without one, npl assembles it."""
    test_cache = Path(os.environ["NPL_CACHE_DIR"])
    target = modelfile.model_path(test_cache)
    user_model = modelfile.model_path(Path(platformdirs.user_cache_dir("npl")))
    if not modelfile.is_verified(target) and modelfile.is_verified(user_model) and target != user_model:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.symlink_to(user_model)
        shutil.copyfile(modelfile._marker_path(user_model), modelfile._marker_path(target))
        assert modelfile.is_verified(target)


def run_npl(args, cwd, env_extra=None, timeout=900):
    env = {**os.environ, **(env_extra or {})}
    env.pop("NPL_LOCAL_MODEL", None)
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def locked_holes(path: Path) -> dict:
    data = tomllib.loads(path.with_name(path.name + ".lock").read_text("utf-8"))
    return {h["name"]: h for h in data.get("holes", {}).values()}


def timing_report(what: str, holes: dict, seconds: float) -> str:
    parts = [f"{name} {h['provenance']['seconds']:.1f} s ({h['provenance']['attempts']} attempt(s), "
             f"{h['provenance']['prompt_tokens']}+{h['provenance']['completion_tokens']} tokens)"
             for name, h in holes.items()]
    return f"\n{what}: {seconds:.1f} s wall; " + "; ".join(parts)


def test_local_model_fills_three_holes_and_the_program_runs(tmp_path):
    assert MIN_SYNTH_EXAMPLES > 2                 # two examples each: the model must fill them
    program = tmp_path / "words.npl"
    program.write_text(THREE_HOLES)
    start = time.monotonic()
    r = run_npl(["fill", "words.npl", "--model", LOCAL], tmp_path)
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    holes = locked_holes(program)
    print(timing_report("three holes with --model", holes, elapsed))
    assert set(holes) == {"count_vowels", "reverse_words", "sum_of_squares"}
    for name, hole in holes.items():
        assert hole["provenance"]["source"] == LOCAL, name
        assert hole["provenance"]["completion_tokens"] > 0
        assert f"filled {name} " in r.stderr and f"by {LOCAL}" in r.stderr
    assert re.search(rf"npl: \d+ model call\(s\) to {LOCAL}, \d+ prompt \+ \d+ completion tokens", r.stderr)
    r = run_npl(["run", "--frozen", "words.npl"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "4 three two one 385\n"
    r = run_npl(["test", "--frozen", "words.npl"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_local_model_is_the_default_when_nothing_else_is_configured(tmp_path):
    program = tmp_path / "pal.npl"
    program.write_text(ONE_HOLE)
    start = time.monotonic()
    r = run_npl(["fill", "pal.npl"], tmp_path, {"NPL_LIBRARY": "off"})   # no --model, NPL_MODEL, npl.toml
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    holes = locked_holes(program)
    print(timing_report("one hole, default model", holes, elapsed))
    assert holes["is_palindrome"]["provenance"]["source"] == LOCAL
    assert f"filled is_palindrome (pal.npl:1:1) by {LOCAL}" in r.stderr
    r = run_npl(["run", "--frozen", "pal.npl"], tmp_path)
    assert r.returncode == 0 and r.stdout == "True False\n", r.stderr

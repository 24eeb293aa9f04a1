"""`npl fill` with a local model whose worker segfaults, is killed (SIGKILL,
as by the out-of-memory killer) or hangs mid-fill: the command ends with a
clear message (no traceback), the program, the lock file and the module
library are untouched, and a hole the synthesizer can fill is filled
anyway. The model is tests/fake_engine.py in the worker, so no real model
is needed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from conftest import npl_command
from fake_engine import use_fake_engine
from npl.filling.library import Library

TESTS = Path(__file__).resolve().parent

DOUBLE = '''\
def double(x: int) -> int:
    """Twice x."""
    ...

example double(1) == 2
example double(3) == 6
example double(5) == 10

def main():
    print(double(21))
'''

VOWELS = '''
def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
'''

GOOD_VOWELS = ('```npl\ndef count_vowels(s: str) -> int:\n'
               '    return len([c for c in s.lower() if c in "aeiou"])\n```')


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A program folder, a fake GGUF file and the fake engine's settings."""
    model, runtime = use_fake_engine(tmp_path, monkeypatch, also_unset=("NPL_MODEL",))
    folder = tmp_path / "prog"
    folder.mkdir()
    (folder / "prog.npl").write_text(DOUBLE)
    yield folder, model
    shutil.rmtree(runtime, ignore_errors=True)


def fill(folder: Path, model: Path, *args: str, fault: str = "none",
         reply: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "FAKE_ENGINE_FAULT": fault, "FAKE_ENGINE_REPLY": reply or GOOD_VOWELS}
    return subprocess.run(npl_command() + ["fill", "prog.npl", "--model", f"local/{model}", *args],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=120)


def loads(folder: Path) -> int:
    log = folder.parent / "engine.jsonl"
    return log.read_text().count('"event": "load"') if log.exists() else 0


def locked(folder: Path) -> dict:
    data = tomllib.loads((folder / "prog.npl.lock").read_text())
    return {h["name"]: h["provenance"]["source"] for h in data["holes"].values()}


def snapshot(folder: Path) -> tuple:
    """The program and its lock file byte for byte, and the module library's
    entries (its SQLite file changes when a run merely opens it)."""
    with Library() as library:
        entries = library.list()
    return (folder / "prog.npl").read_bytes(), (folder / "prog.npl.lock").read_bytes(), entries


def test_the_synthesizer_fills_a_hole_whatever_the_model_does(project):
    folder, model = project
    # Three examples do not trust the synthesizer's `x + x` alone (filling/trust.py), so
    # the model is asked too; it crashes, and the synthesizer's program fills the hole.
    r = fill(folder, model, fault="segv")
    assert r.returncode == 0, r.stderr
    assert locked(folder) == {"double": "synth"} and loads(folder) == 2   # repacking on, then off
    # --refresh asks the model first; it crashes, and the synthesizer fills the hole
    r = fill(folder, model, "--refresh", "double", fault="segv")
    assert r.returncode == 0, r.stderr
    assert locked(folder) == {"double": "synth"} and loads(folder) == 4


def test_a_working_worker_fills_the_model_hole(project):
    folder, model = project
    (folder / "prog.npl").write_text(DOUBLE + VOWELS)
    r = fill(folder, model)
    assert r.returncode == 0, r.stderr
    assert locked(folder) == {"double": "synth", "count_vowels": f"local/{model}"}
    # the model is given its reply's start, the `def` line and docstring of the request
    requests = [json.loads(line) for line in (folder.parent / "engine.jsonl").read_text().splitlines()]
    prefixes = {r["prefix"] for r in requests if r["event"] == "request"}
    assert ('```python\ndef count_vowels(s: str) -> int:\n'
            '    """Count the vowels a, e, i, o, u in s, in either case."""\n') in prefixes
    # and ends it before top-level usage examples (`print(...)` after the function)
    assert all("\nprint(" in r["stop"] for r in requests if r["event"] == "request")


@pytest.mark.parametrize("fault, words", [
    ("segv", "crashed with SIGSEGV (a segmentation fault"),
    ("kill", "was killed (SIGKILL), most likely by the kernel's out-of-memory killer"),
    ("hang", "took more than 2 s to answer and was stopped"),
])
def test_a_worker_dying_mid_fill_leaves_everything_as_it_was(project, fault, words):
    folder, model = project
    assert fill(folder, model).returncode == 0              # double, by the synthesizer
    (folder / "prog.npl").write_text(DOUBLE + VOWELS)
    (folder / "npl.toml").write_text("[provider]\ntimeout = 2\n")
    before = snapshot(folder)
    r = fill(folder, model, fault=fault)
    assert r.returncode == 1, r.stderr
    assert "could not fill hole 'count_vowels'" in r.stderr and words in r.stderr
    assert "wrote nothing to your program" in r.stderr and "Traceback" not in r.stderr
    assert snapshot(folder) == before


def test_a_reply_cut_off_as_a_repetition_is_rejected_with_that_reason(project):
    """The engine ends a reply whose lines keep repeating one block of code
    (filling/providers/repetition.py); the fill loop rejects it, says why
    and tells the model in the next request, whatever the text it got. That
    request is a fresh sample, not a repair: a small model asked to repair
    a cut-off reply writes it again."""
    import json
    folder, model = project
    (folder / "prog.npl").write_text(VOWELS)
    r = fill(folder, model, "--log", "attempts.jsonl", fault="runaway")
    assert r.returncode != 0 and "cut off: it repeated `if x == 0: / return True` 8 times" in r.stderr
    records = [json.loads(line) for line in (folder / "attempts.jsonl").read_text().splitlines()]
    asked = [rec for rec in records if rec["source"] == f"local/{model}"]
    assert asked and all(rec["verdict"] == "rejected" and rec["stage"] == "reply" for rec in asked)
    requests = [json.loads(line) for line in (folder.parent / "engine.jsonl").read_text().splitlines()]
    asked = [e for e in requests if e["event"] == "request"]
    assert len(asked) > 1 and asked[0]["temperature"] == 0
    for later in asked[1:]:
        assert later["temperature"] > 0 and later["messages"] == 2        # no repair turn
        assert "An answer was cut off: it repeated" in later["end"] and "Do not list cases" in later["end"]
    assert not (folder / "prog.npl.lock").exists() or "count_vowels" not in locked(folder)

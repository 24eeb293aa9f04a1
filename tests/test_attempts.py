"""Attempt records (filling/attempts.py) and bounded prompts, end to end
against the scripted fake model (tests/fakellm.py): `npl fill --log` writes
every try of every source (library, synthesizer, hand-written lock entry,
model) with its prompt, reply, fill and verdict; PROG.npl.attempts.jsonl
keeps the last fill's attempts of each hole for `npl holes --attempts`; a
huge value in a repair message is cut to the prompt's budget with a note; a
provider that says the prompt exceeds its context fails that hole only."""
from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, error, prompt_text
from npl.filling.attempts import Attempt, AttemptLog, load_sidecar, save_sidecar
from npl.filling.prompt import FEEDBACK_CHARS, PREVIOUS_CHARS, elided, fit_messages, repair_message

# Six examples (one held out) pin the synthesizer's `x + 1` down, so it fills
# add_one without the model being asked (filling/evidence.py).
MORE_ADD_ONE = "example add_one(0) == 1\nexample add_one(-3) == -2\nexample add_one(41) == 42\n"
PROGRAM = '''\
def add_one(x: int) -> int:
    """x plus one."""
    ...

example add_one(1) == 2
example add_one(5) == 6
example add_one(10) == 11
''' + MORE_ADD_ONE + '''

def count_vowels(s: str) -> int:
    """Count the vowels a, e, i, o, u in s, in either case."""
    ...

example count_vowels("Hello") == 2
example count_vowels("AEIOU xyz") == 5

def main():
    print(add_one(1), count_vowels("Programming"))
'''

BUGGY_VOWELS = '```npl\ndef count_vowels(s: str) -> int:\n    return sum(1 for c in s if c in "aeiou")\n```'
GOOD_VOWELS = ('```npl\ndef count_vowels(s: str) -> int:\n'
               '    return sum(1 for c in s.lower() if c in "aeiou")\n```')


def run_npl(args, cwd, env_extra=None, timeout=180):
    env = {**os.environ, "NPL_LOCAL_MODEL": "off", **(env_extra or {})}
    return subprocess.run(npl_command() + args, cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def add_wrong_library_entry() -> None:
    """A library entry with count_vowels' signature and description that
    fails its examples (the test's own library: conftest's NPL_LIBRARY)."""
    from npl.filling.library import Library, LibraryEntry
    from npl.filling.lockfile import Provenance
    with Library() as lib:
        lib.add(LibraryEntry("function", ("str",), ("s",), "int",
                             "Count the vowels a, e, i, o, u in s, in either case.",
                             "def count_vowels(s: str) -> int:\n    return len(s)\n",
                             examples=('example count_vowels("aa") == 2',),
                             provenance=Provenance("openai/old", "old", 1, 1, 1, 1.0)))


def test_log_and_sidecar_record_every_source(tmp_path):
    (tmp_path / "prog.npl").write_text(PROGRAM)
    add_wrong_library_entry()
    with FakeLLMServer([BUGGY_VOWELS, GOOD_VOWELS]) as server:
        env = {"OPENAI_BASE_URL": server.base_url}
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--log", "fill.jsonl"], tmp_path, env)
    assert r.returncode == 0, r.stderr
    records = read_log(tmp_path / "fill.jsonl")
    by_source = {}
    for rec in records:
        by_source.setdefault(rec["source"], []).append(rec)
        assert rec["location"].startswith("prog.npl:") and rec["key"] and rec["at"]
    assert set(by_source) == {"library", "synth", "openai/m"}
    (lib,) = by_source["library"]
    assert (lib["hole"], lib["verdict"], lib["stage"]) == ("count_vowels", "rejected", "test")
    assert "return len(s)" in lib["fill"] and "It fails the example" in lib["feedback"]
    (synth,) = by_source["synth"]
    assert (synth["hole"], synth["verdict"]) == ("add_one", "accepted") and synth["detail"]
    first, second = by_source["openai/m"]
    assert (first["number"], first["verdict"], first["stage"]) == (1, "rejected", "test")
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert "count_vowels" in first["messages"][1]["content"] and first["reply"] == BUGGY_VOWELS
    assert 'c in "aeiou"' in first["fill"] and 'count_vowels("AEIOU xyz") == 5' in first["feedback"]
    assert first["prompt_tokens"] == 12 and first["completion_tokens"] > 0
    assert (second["number"], second["verdict"], second["stage"]) == (2, "accepted", "ok")
    assert len(second["messages"]) == 4 and "was rejected" in second["messages"][3]["content"]
    assert records.index(lib) < records.index(first)            # in the order they happened

    # the sidecar keeps them for `npl holes --attempts`
    assert len(load_sidecar(str(tmp_path / "prog.npl.attempts.jsonl"))) == len(records)
    r = run_npl(["holes", "prog.npl", "--attempts", "count_vowels"], tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "3 attempt(s) for 'count_vowels'" in out
    assert "library [" in out and "openai/m attempt 1 [" not in out
    assert "openai/m attempt 1: rejected at test" in out and "openai/m attempt 2: accepted" in out
    assert 'example count_vowels("AEIOU xyz") == 5' in out and "--prompts shows them" in out
    r = run_npl(["holes", "prog.npl", "--attempts", "count_vowels", "--prompts"], tmp_path)
    assert "prompt (system):" in r.stdout and "Count the vowels" in r.stdout
    r = run_npl(["holes", "prog.npl", "--attempts", "nosuch"], tmp_path)
    assert r.returncode == 2 and "no hole named 'nosuch'" in r.stderr

    # a hand-written entry is verified (a "manual" attempt); the other hole's
    # attempts stay in the sidecar, add_one's are replaced
    set_manual(tmp_path / "prog.npl.lock", "add_one", "def add_one(x: int) -> int:\n    return 1 + x\n")
    r = run_npl(["fill", "prog.npl", "--log", "again.jsonl"], tmp_path)
    assert r.returncode == 0, r.stderr
    (manual,) = read_log(tmp_path / "again.jsonl")
    assert (manual["source"], manual["hole"], manual["verdict"]) == ("manual", "add_one", "accepted")
    kept = load_sidecar(str(tmp_path / "prog.npl.attempts.jsonl"))
    assert [a.source for a in kept if a.hole == "add_one"] == ["manual"]
    assert [a.source for a in kept if a.hole == "count_vowels"] == ["library", "openai/m", "openai/m"]
    r = run_npl(["holes", "prog.npl", "--attempts", "add_one"], tmp_path)
    assert "add_one (prog.npl:1:1) manual: accepted" in r.stdout


def set_manual(lock: Path, name: str, fill: str) -> None:
    import tomllib

    import tomli_w
    doc = tomllib.loads(lock.read_text())
    (table,) = [t for t in doc["holes"].values() if t["name"] == name]
    del table["hash"]
    table["provenance"]["source"] = "manual"
    table["fill"] = fill
    lock.write_text(tomli_w.dumps(doc, multiline_strings=True))


def test_a_log_that_cannot_be_opened_is_a_usage_error(tmp_path):
    (tmp_path / "prog.npl").write_text(PROGRAM)
    r = run_npl(["fill", "prog.npl", "--log", str(tmp_path / "no" / "such" / "x.jsonl")], tmp_path)
    assert r.returncode == 2 and "--log" in r.stderr and "Traceback" not in r.stderr


def test_sidecar_keeps_the_last_attempts_of_live_holes(tmp_path):
    class Spec:
        def __init__(self, name):
            self.name, self.key, self.location = name, "k-" + name, f"p.npl:{len(name)}:1"
    path = str(tmp_path / "p.npl.attempts.jsonl")
    log = AttemptLog()
    for i in range(100):
        with log.attempt(Spec("a"), "openai/m", i + 1) as a:
            a.reject("reply", f"no code {i}")
    with log.attempt(Spec("gone"), "synth") as a:
        a.reject("search", "found nothing")
    save_sidecar(path, log, keep={"k-a", "k-gone"})
    kept = load_sidecar(path)
    assert len([a for a in kept if a.key == "k-a"]) == 64 and kept[0].feedback == "no code 36"
    stream = io.StringIO()
    later = AttemptLog(stream)
    with later.attempt(Spec("b"), "library", detail="abc") as a:
        a.reject("test", "fails")
        a.reply = 'label = "\ud800"'          # a lone surrogate from a model stays writable
    stream.getvalue().encode("utf-8")
    save_sidecar(path, later, keep={"k-a", "k-b"})      # "gone" is no hole any more
    assert {a.key for a in load_sidecar(path)} == {"k-a", "k-b"}
    with open(path, "a") as f:
        f.write("not json\n")
    assert len(load_sidecar(path)) == 65                 # a damaged line is skipped


def test_an_exception_inside_an_attempt_is_recorded_and_goes_on():
    class Spec:
        name, key, location = "f", "k", "p.npl:1:1"
    log = AttemptLog()
    with pytest.raises(RuntimeError):
        with log.attempt(Spec(), "synth"):
            raise RuntimeError("boom")
    (a,) = log.records
    assert (a.verdict, a.stage, a.feedback) == ("error", "error", "RuntimeError: boom")
    assert Attempt.from_json(a.to_json()) == a


# ---------------------------------------------------------------- bounded prompts

HUGE = '''\
def banner(n: int) -> str:
    """A row of n stars."""
    ...

example banner(3) == "***"

def numbers(n: int) -> list[int]:
    """The numbers from 1 to n."""
    ...

example numbers(3) == [1, 2, 3]
'''
HUGE_STRING = '```npl\ndef banner(n: int) -> str:\n    s = "x" * 300000\n    return s\n```'
HUGE_LIST = '```npl\ndef numbers(n: int) -> list[int]:\n    return list(range(1000000))\n```'


def test_a_huge_value_in_a_repair_message_stays_bounded(tmp_path):
    (tmp_path / "prog.npl").write_text(HUGE)
    seen = {"banner": 0, "numbers": 0}

    def respond(request):
        task = request["messages"][1]["content"]
        hole = "banner" if "def banner(n: int) -> str:\n" in task else "numbers"
        seen[hole] += 1
        if seen[hole] == 1:
            return HUGE_STRING if hole == "banner" else HUGE_LIST
        if hole == "banner":
            return '```npl\ndef banner(n: int) -> str:\n    return "*" * n\n```'
        return '```npl\ndef numbers(n: int) -> list[int]:\n    return [i + 1 for i in range(n)]\n```'
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--log", "log.jsonl"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        requests = server.requests
    assert r.returncode == 0, r.stderr
    repairs = [q for q in requests if "was rejected" in prompt_text(q.json)]
    assert len(repairs) == 2
    for q in repairs:
        repair = q.json["messages"][-1]["content"]
        assert len(repair) < FEEDBACK_CHARS + PREVIOUS_CHARS + 2000, len(repair)
        assert "characters left out" in repair
        assert len(prompt_text(q.json)) < 20_000
    banner = next(q for q in repairs if "def banner" in prompt_text(q.json))
    assert "right side is '***'" in banner.json["messages"][-1]["content"]
    assert "right side is [1, 2, 3]" in prompt_text(next(q for q in repairs if q is not banner).json)
    assert all(len(json.dumps(rec)) < 60_000 for rec in read_log(tmp_path / "log.jsonl"))


def test_repair_message_cuts_feedback_and_code_with_a_note():
    class Spec:
        kind = "function"
    problem = "It fails the example at p.npl:3:\n" + "\n".join(f"line {i}" for i in range(100_000))
    message = repair_message(Spec(), "def f():\n" + "    x = 1\n" * 20_000, problem)
    text = message["content"]
    assert len(text) < FEEDBACK_CHARS + PREVIOUS_CHARS + 2000
    assert "characters of this feedback left out" in text and "characters of your code left out" in text
    assert "It fails the example at p.npl:3:" in text and "line 99999" in text   # its start and end


def test_fit_messages_drops_older_repair_turns_then_cuts():
    first = [{"role": "system", "content": "s" * 1000}, {"role": "user", "content": "u" * 2000}]
    turns = []
    for i in range(4):
        turns += [{"role": "assistant", "content": f"reply {i} " + "a" * 3000},
                  {"role": "user", "content": f"feedback {i} " + "f" * 3000}]
    assert fit_messages(first + turns, 10**6) == first + turns       # it fits: unchanged
    fitted = fit_messages(first + turns, 12_000)
    assert fitted[:2] == first and len(fitted) == 4
    assert fitted[2]["content"].startswith("reply 3")
    assert fitted[3]["content"].startswith("(3 earlier rejected attempt(s) are left out")
    assert sum(len(m["content"]) for m in fitted) <= 12_000
    huge = first + [{"role": "assistant", "content": "r"}, {"role": "user", "content": "f" * 300_000}]
    fitted = fit_messages(huge, 8_000)
    assert sum(len(m["content"]) for m in fitted) <= 8_000
    assert "characters of this message left out" in fitted[-1]["content"]
    assert turns[0]["content"].startswith("reply 0")               # the input is not changed


def test_elided_keeps_short_text_and_whole_lines():
    assert elided("short", 100) == "short"
    text = "\n".join(f"row {i}" for i in range(1000))
    cut = elided(text, 300, "rows")
    assert len(cut) <= 300 and cut.startswith("row 0\n") and cut.endswith("row 999")
    assert all(line.startswith(("row ", "[... ")) for line in cut.splitlines())


def test_a_context_exceeded_reply_fails_that_hole_only(tmp_path):
    (tmp_path / "prog.npl").write_text(PROGRAM.replace("example add_one(10) == 11\n" + MORE_ADD_ONE, ""))
    too_long = error(400, "This model's maximum context length is 8192 tokens. However, your "
                          "messages resulted in 303966 tokens.")

    def respond(request):
        if "def add_one(x: int) -> int:\n" in request["messages"][1]["content"]:
            return too_long
        return GOOD_VOWELS
    with FakeLLMServer(default=dynamic(respond)) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m", "--log", "log.jsonl"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
    assert r.returncode == 1
    assert "could not fill hole 'add_one'" in r.stderr and "context" in r.stderr
    assert "Traceback" not in r.stderr
    assert "count_vowels" in (tmp_path / "prog.npl.lock").read_text()      # the other hole is filled
    failed = [rec for rec in read_log(tmp_path / "log.jsonl") if rec["hole"] == "add_one"]
    assert [(rec["verdict"], rec["stage"]) for rec in failed] == [("error", "provider")]
    assert "maximum context length" in failed[0]["feedback"]


def test_fill_coverage_groups_rejections_by_diagnostic(tmp_path):
    """bench/fill_coverage.py reads --log files and counts the rejections."""
    import importlib.util

    from conftest import ROOT
    spec = importlib.util.spec_from_file_location("fill_coverage", ROOT / "bench" / "fill_coverage.py")
    coverage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(coverage)
    compile_error = ("It does not compile:\np.npl.lock#f:2:12: error[E010]: undefined name "
                     "'isinstance'\n        return isinstance(x, int)\n               ^^^^\n")
    records = [
        {"source": "local/m", "key": "k1", "verdict": "rejected", "stage": "compile",
         "feedback": compile_error},
        {"source": "local/m", "key": "k1", "verdict": "rejected", "stage": "compile",
         "feedback": compile_error},
        {"source": "local/m", "key": "k1", "verdict": "rejected", "stage": "test",
         "feedback": "It fails the example at p.npl:7:\n    example f(1) == 2"},
        {"source": "local/m", "key": "k1", "verdict": "accepted", "stage": "ok", "feedback": ""},
        {"source": "synth", "key": "k2", "verdict": "rejected", "stage": "search",
         "feedback": "found nothing within 3 s"},
    ]
    log = tmp_path / "fill.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records) + "junk\n")
    summary = coverage.summarize(coverage.read_logs([log]), top=5)
    assert summary["attempts"] == 5 and summary["holes"] == 2
    assert summary["by_source"]["model local/m"] == {"rejected at compile": 2, "rejected at test": 1,
                                                     "accepted": 1}
    assert summary["filled_by_source"] == {"model local/m": 1}
    assert summary["compile_codes"] == {"E010": 2}
    (top,) = summary["compile_messages"]
    assert top == {"count": 2, "diagnostic": "E010 undefined name 'isinstance'",
                   "line": "return isinstance(x, int)"}
    reasons = {r["reason"]: r["count"] for r in summary["other_rejections"]}
    assert reasons == {"test: It fails the example at FILE:LINE:": 1,
                       "search: found nothing within N s": 1}
    assert "E010 undefined name 'isinstance'" in coverage.report(summary)


@pytest.mark.parametrize("prompt_chars, kind", [(300_000, "context"), (10, "malformed")])
def test_the_local_engine_says_when_a_prompt_exceeds_its_context(prompt_chars, kind):
    """llama.cpp refuses a prompt longer than its context with a ValueError;
    the engine measures the prompt to tell that ("context": that hole fails)
    from another refusal of the request."""
    from npl.filling.providers.base import ProviderError
    from npl.filling.providers.llama_engine import LlamaEngine

    class Llama:                        # a token a character, and every request refused
        metadata: dict = {}             # no chat template: llama-cpp-python lays the chat out

        def tokenize(self, text: bytes, add_bos: bool = True):
            return list(text)

        def token_eos(self) -> int:
            return 0

        def create_chat_completion(self, **request):
            raise ValueError("Requested tokens (303966) exceed context window of 8192")
    engine = LlamaEngine.__new__(LlamaEngine)
    engine.llama, engine.n_ctx = Llama(), 8192
    with pytest.raises(ProviderError) as err:
        engine._generate([{"role": "user", "content": "x" * prompt_chars}], "", 768, 0.0, [], None,
                         0, lambda: False)
    assert err.value.kind == kind and "the context window is 8192 tokens" in err.value.message

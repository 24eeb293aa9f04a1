"""Hardening (issue 13): what an independent red team broke around the
language boundary, one class of failure per section, through the real
`npl` CLI with a scripted hostile provider (tests/fakellm.py) where it can
be, and straight into the module where the class is decided otherwise.

  * one candidate cannot poison the next (filling/sandbox.py);
  * a hostile reply cannot crash or stall the host, nor cost another hole
    its verified fill (filling/replies.py, sources.py, filler.py);
  * bad files and settings are errors (exit 2), never internal errors;
  * bounds on what a fill may ask for: sub-holes per fill, model calls per
    hole, no bidirectional controls ("Trojan Source");
  * sibling sub-holes are filled and checked together;
  * the embedding API converts host values to exact NPL values.
Large literals are tests/test_large_literals.py.
"""
from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakellm import FakeLLMServer, dynamic
from safety_harness import (assert_clean_failure, as_reply, function_reply, last_user_message,
                            run_npl, write_settings)

TWO_HOLES = '''\
def inc(n: int) -> int:
    """Return n + 1."""
    ...

example inc(1) == 2
example inc(41) == 42

def dec(n: int) -> int:
    """Return n - 1."""
    ...

example dec(1) == 0
example dec(43) == 42

def main():
    print(inc(1), dec(1))
'''
INC, DEC = "def inc(n: int) -> int", "def dec(n: int) -> int"
GOOD_INC = function_reply(INC, "return n + 1")
GOOD_DEC = function_reply(DEC, "return n - 1")


def two_holes(tmp_path: Path, **settings) -> Path:
    (tmp_path / "prog.npl").write_text(TWO_HOLES)
    write_settings(tmp_path, **settings)
    return tmp_path


def asked_for(request: dict, names: list[str]) -> str:
    """Which function a request asks for: of `names`, the one whose `def`
    comes first in its first user message (the hole's own signature comes
    before the signatures of the others it may call)."""
    first = request["messages"][1]["content"]
    found = [(first.find(f"def {name}("), name) for name in names if f"def {name}(" in first]
    return min(found)[1] if found else ""


def by_hole(inc_replies: list, dec_replies: list):
    """A provider answering each hole's requests from its own list (the last
    answer repeats)."""
    queues = {"inc": list(inc_replies), "dec": list(dec_replies)}

    def respond(request):
        queue = queues.get(asked_for(request, ["inc", "dec"]))
        if queue is None:
            return "no such hole"
        return queue.pop(0) if len(queue) > 1 else queue[0]
    return dynamic(respond)


def requests_for(requests: list, name: str, names=("inc", "dec")) -> list:
    return [q for q in requests if asked_for(q.json, list(names)) == name]


def fill(folder: Path, provider, timeout: float = 300) -> tuple[subprocess.CompletedProcess, list]:
    with FakeLLMServer(default=provider) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], folder,
                    {"OPENAI_BASE_URL": server.base_url, "NPL_LIBRARY": "off"}, timeout=timeout)
        return r, server.requests


def locked(folder: Path) -> dict[str, str]:
    """{hole name: fill} of the lock file's valid entries (it must parse)."""
    from npl.filling.lockfile import LockFile
    lock = LockFile.load(folder / "prog.npl.lock")
    assert not lock.tampered
    return {e.name: e.fill for e in lock.entries.values()}


# ================================================================ one candidate, one verdict

def test_a_limit_stop_replaces_the_worker_and_the_next_fill_is_judged_alone(tmp_path, monkeypatch):
    """A candidate that fills memory and then runs into the time limit does
    not leave its worker to the next candidate: a correct fill right after
    it is accepted, in a fresh worker."""
    from npl.compiler.driver import compile
    from npl.filling import sandbox
    from npl.filling.candidate import verify
    from npl.filling.settings import Limits
    path = str(tmp_path / "prog.npl")
    comp = compile(TWO_HOLES, path, strict_fills=False)
    inc, dec = comp.holes
    limits = Limits(10 ** 9, 0.5, 400)
    pool = sandbox.SandboxPool()                 # this test's own workers
    monkeypatch.setattr(sandbox, "_pool", pool)
    hog = f"{INC}:\n    xs = [n] * 30000000\n    while True:\n        n = n + 1\n    return n\n"
    verdict = verify(TWO_HOLES, path, {}, inc, hog, limits)
    assert (verdict.accepted, verdict.stage) == (False, "limit")
    assert "time limit" in verdict.feedback
    assert pool.idle == []                       # the worker that ran it is gone
    try:
        verdict = verify(TWO_HOLES, path, {}, dec,
                         f"{DEC}:\n    ys = [n] * 20000000\n    return n - 1\n", limits)
        assert verdict.accepted, verdict.feedback      # 160 MB is within its own 400 MiB
        assert len(pool.idle) == 1 and pool.idle[0].jobs == 1
    finally:
        pool.close()


class FakeWorker:
    """A sandbox worker without a process: `verdicts` maps a job's key to what
    a worker that has already run a job answers, and a fresh one answers ok."""
    made: list["FakeWorker"] = []
    verdicts: dict = {}

    def __init__(self, memory_mb: int):
        self.memory_mb, self.jobs, self.killed = memory_mb, 0, False
        FakeWorker.made.append(self)

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True

    def run(self, job: dict, deadline: float) -> dict:
        self.jobs += 1
        ok = {"accepted": True, "stage": "ok", "feedback": "", "passed": ["e"], "heap_mb": 1.0}
        if self.jobs > 1 and job["key"] in self.verdicts:
            return dict(self.verdicts[job["key"]])
        return ok


@pytest.fixture
def fake_pool(monkeypatch):
    from npl.filling import sandbox
    FakeWorker.made = []
    monkeypatch.setattr(sandbox, "SandboxWorker", FakeWorker)
    return sandbox.SandboxPool()


def job(key: str) -> dict:
    return {"key": key, "limits": {"memory_mb": 256}}


def test_a_limit_stop_in_a_reused_worker_is_checked_again_in_a_fresh_one(fake_pool):
    FakeWorker.verdicts = {"b": {"accepted": False, "stage": "limit", "passed": [], "heap_mb": 0,
                                 "feedback": "It was stopped: it exhausted the memory limit"}}
    assert fake_pool.run(job("a"), 10)["accepted"]
    verdict = fake_pool.run(job("b"), 10)       # the reused worker says "out of memory"...
    assert verdict["accepted"]                  # ...a fresh one, the judge, says ok
    assert len(FakeWorker.made) == 2 and FakeWorker.made[0].killed


def test_a_worker_whose_heap_grew_is_not_reused(fake_pool):
    FakeWorker.verdicts = {"grow": {"accepted": True, "stage": "ok", "feedback": "",
                                    "passed": [], "heap_mb": 900.0}}
    fake_pool.run(job("a"), 10)
    fake_pool.run(job("grow"), 10)
    assert FakeWorker.made[0].killed and not fake_pool.idle
    fake_pool.run(job("c"), 10)
    assert len(FakeWorker.made) == 2


# ================================================================ hostile replies

def test_a_huge_reply_is_refused_unread_and_the_repair_loop_goes_on(tmp_path):
    two_holes(tmp_path, attempts=2)
    huge = "```npl\n" + INC + ":\n    return n + 1\n" + "# pad\n" * 1_500_000 + "```"   # 9 MB
    start = time.monotonic()
    r, requests = fill(tmp_path, by_hole([huge, GOOD_INC], [GOOD_DEC]))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start < 60
    inc_requests = requests_for(requests, "inc")
    repair = last_user_message(inc_requests[1])
    assert "characters long; a reply may be at most 64,000" in repair
    assert len(str(inc_requests[1].json)) < 100_000         # the reply is not sent back whole
    assert set(locked(tmp_path)) == {"inc", "dec"}


def test_a_huge_fill_never_reaches_the_lock(tmp_path):
    two_holes(tmp_path, attempts=1)
    table = "\n".join(f"    t{i} = {i}" for i in range(2600))            # ~40,000 characters
    big = as_reply(f"{INC}:\n{table}\n    return n + 1")
    r, _ = fill(tmp_path, by_hole([big], [GOOD_DEC]))
    assert_clean_failure(r, 1)
    assert "a fill may be at most 32,000" in r.stderr
    assert locked(tmp_path) == {"dec": f"{DEC}:\n    return n - 1\n"}


def test_every_source_of_fills_is_held_to_the_fill_cap(tmp_path):
    """The cap is in the check every candidate goes through (a library
    entry, a hand-written lock entry, the synthesizer, a model)."""
    from npl.compiler.driver import compile
    from npl.filling.candidate import MAX_FILL_CHARS, verify
    from npl.filling.settings import Limits
    spec = next(h for h in compile(TWO_HOLES, "p.npl", strict_fills=False).holes if h.name == "inc")
    padding = "    # " + "x" * 70 + "\n"
    big = f"{INC}:\n" + padding * (MAX_FILL_CHARS // len(padding) + 2) + "    return n + 1\n"
    verdict = verify(TWO_HOLES, "p.npl", {}, spec, big, Limits())
    assert (verdict.accepted, verdict.stage) == (False, "compile")
    assert "a fill may be at most" in verdict.feedback


def test_a_lone_surrogate_costs_only_its_own_hole(tmp_path):
    """The surrogate hole comes first; the other hole's verified fill is in
    the lock anyway, and npl exits 1 (a hole could not be filled), not 3."""
    two_holes(tmp_path, attempts=2)
    poisoned = function_reply(INC, 'label = "\ud800"\nreturn n + 1')
    r, requests = fill(tmp_path, by_hole([poisoned], [GOOD_DEC]))
    assert_clean_failure(r, 1)
    assert "lone surrogate" in r.stderr
    assert "lone surrogate U+D800" in last_user_message(requests[1])
    assert locked(tmp_path) == {"dec": f"{DEC}:\n    return n - 1\n"}


def test_each_fill_is_written_as_soon_as_it_is_verified(tmp_path, monkeypatch):
    """A crash while filling a later hole (here: simulated in the filler)
    leaves the earlier holes' fills in the lock."""
    from npl.filling import filler as filler_module
    from npl.project import fill_missing, open_program
    two_holes(tmp_path, attempts=1)
    original = filler_module.Filler.fill_one

    def crash_on_dec(self, spec, ctx=None):
        if spec.name == "dec":
            raise RuntimeError("simulated crash while filling dec")
        return original(self, spec, ctx)
    monkeypatch.setattr(filler_module.Filler, "fill_one", crash_on_dec)
    with FakeLLMServer(default=by_hole([GOOD_INC], [GOOD_DEC])) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("NPL_LIBRARY", "off")
        with pytest.raises(RuntimeError, match="simulated crash"):
            fill_missing(open_program(str(tmp_path / "prog.npl"), strict_fills=False),
                         model="openai/m", quiet=True)
    assert locked(tmp_path) == {"inc": f"{INC}:\n    return n + 1\n"}


REPLY_PIECES = ["```npl\n", "```", "~~~", "def inc(n: int) -> int:\n", "    return n + 1\n",
                "(", ")", "[", "'", '"', '"""', "?{", "}", "\\\n", "...", "\t", "\r\n",
                "\ud800", "\udfff", "\u202e", "\x00", "\ufeff", "Here is the code:\n", "#",
                "def ", ":", "\n", "    ", "import os\n", "if __name__ == '__main__':\n"]
replies = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=400),     # surrogates too
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
    st.lists(st.sampled_from(REPLY_PIECES), max_size=60).map("".join),
)


@settings(max_examples=300)
@given(replies)
def test_reply_handling_fuzz_gives_a_fill_or_a_reason(text):
    """Any reply text gives fill source or a ReplyError with a reason: no
    other exception, no text a lock could not store."""
    from npl.filling.replies import ReplyError
    from npl.filling.model_source import reply_to_fill
    from npl.compiler.driver import compile
    spec = next(h for h in compile(TWO_HOLES, "p.npl", strict_fills=False).holes if h.name == "inc")
    try:
        fill_source = reply_to_fill(spec, text)
    except ReplyError as err:
        assert err.reason
        return
    fill_source.encode("utf-8")


@pytest.mark.parametrize("size", [64_001, 1_000_000, 30_000_000])
def test_an_oversized_reply_is_refused_before_any_parsing(size):
    from npl.filling.replies import ReplyError, extract_code
    text = "```npl\n" + "(" * size
    start = time.process_time()
    with pytest.raises(ReplyError, match="characters long"):
        extract_code(text)
    assert time.process_time() - start < 0.5


def hostile_replies(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            out.append(bytes(rng.randrange(256) for _ in range(300)).decode("latin-1"))
        elif kind == 1:
            out.append("".join(rng.choice(REPLY_PIECES) for _ in range(80)))
        elif kind == 2:
            out.append(function_reply(INC, f'return n + len("\\ud83d{chr(0xd800 + i)}")'))
        elif kind == 3:
            out.append("x" * 200_000)
        else:
            out.append(function_reply(INC, "return n + 1 \u202e # reversed"))
    return out


def test_random_hostile_replies_never_crash_fill_nor_damage_the_lock(tmp_path):
    """Fuzz through the CLI: one hole gets random bytes, piece soup, lone
    surrogates, a huge reply and Trojan-Source code; the other hole a good
    reply. npl fails cleanly for the first and keeps the second in an
    intact lock."""
    script = hostile_replies(13, 10)
    two_holes(tmp_path, attempts=len(script))
    r, requests = fill(tmp_path, by_hole(script, [GOOD_DEC]))
    assert_clean_failure(r, 1)
    assert "could not fill hole 'inc'" in r.stderr
    assert locked(tmp_path) == {"dec": f"{DEC}:\n    return n - 1\n"}
    feedback = "\n".join(last_user_message(q) for q in requests[1:])
    assert "bidirectional control U+202E" in feedback
    assert "lone surrogate" in feedback


# ================================================================ bad files and settings

def bad_input(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess:
    r = run_npl(args, tmp_path, timeout=60)
    assert_clean_failure(r, 2)
    return r


@pytest.mark.parametrize("setting, words", [
    ("[limits]\nsteps = nan\n", "limits.steps must be an integer"),
    ("[limits]\nseconds = inf\n", "limits.seconds must be a finite number"),
    ("[limits]\nseconds = nan\n", "limits.seconds must be a finite number"),
    ("[limits]\nmemory_mb = inf\n", "limits.memory_mb must be an integer"),
    ("[limits]\nmemory_mb = 100000000000\n", "limits.memory_mb must be at most"),
    ("[limits]\nsteps = 100000000000000000000\n", "limits.steps must be at most"),
    ("[fill]\nsynth_budget = inf\n", "fill.synth_budget must be a finite number"),
    ("[fill]\nmax_calls = 0\n", "fill.max_calls must be an integer of at least 1"),
    ("[fill]\nmax_subholes = 1000\n", "fill.max_subholes must be at most 64"),
    ("x = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
])
def test_bad_settings_are_e042(tmp_path, setting, words):
    two_holes(tmp_path)
    (tmp_path / "npl.toml").write_text(setting)
    r = bad_input(tmp_path, ["run", "prog.npl"])
    assert "E042" in r.stderr and words in r.stderr


def test_a_lock_nested_100000_deep_is_e042(tmp_path):
    two_holes(tmp_path)
    (tmp_path / "prog.npl.lock").write_text("version = 1\nx = " + "[" * 100_000 + "]" * 100_000)
    r = bad_input(tmp_path, ["check", "prog.npl"])
    assert "E042" in r.stderr and "nested too deeply" in r.stderr


def test_a_symlinked_lock_guard_is_an_error_and_its_target_is_untouched(tmp_path):
    two_holes(tmp_path, attempts=1)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / ".prog.npl.lock.lck").symlink_to(victim)
    r, _ = fill(tmp_path, by_hole([GOOD_INC], [GOOD_DEC]))
    assert_clean_failure(r, 2)
    assert "guard file .prog.npl.lock.lck is a symbolic link" in r.stderr
    assert victim.read_text() == "keep me"
    (tmp_path / ".prog.npl.lock.lck").unlink()
    (tmp_path / ".prog.npl.lock.lck").symlink_to(tmp_path / "no" / "such" / "dir")
    r, _ = fill(tmp_path, by_hole([GOOD_INC], [GOOD_DEC]))
    assert_clean_failure(r, 2)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("command", ["check", "run", "test", "fill"])
def test_devices_fifos_and_folders_are_not_programs(tmp_path, command):
    os.mkfifo(tmp_path / "fifo.npl")
    (tmp_path / "folder.npl").mkdir()
    for program in ("/dev/zero", "fifo.npl"):
        r = bad_input(tmp_path, [command, program])
        assert f"npl: error: cannot read {program}: it is not a regular file" in r.stderr
    bad_input(tmp_path, [command, "folder.npl"])


def test_unreadable_imports_and_lock_files_are_diagnostics(tmp_path):
    os.mkfifo(tmp_path / "pipe.npl")
    (tmp_path / "latin.npl").write_bytes(b"def f() -> int:\n    return 1 # \xff\n")
    (tmp_path / "prog.npl").write_text("from pipe import f\n\ndef main():\n    print(f())\n")
    r = bad_input(tmp_path, ["check", "prog.npl"])
    assert "E021" in r.stderr and "not a regular file" in r.stderr
    (tmp_path / "prog.npl").write_text("from latin import f\n\ndef main():\n    print(f())\n")
    r = bad_input(tmp_path, ["check", "prog.npl"])
    assert "E021" in r.stderr and "not UTF-8" in r.stderr
    os.mkfifo(tmp_path / "prog.npl.lock")
    r = bad_input(tmp_path, ["check", "prog.npl"])
    assert "E042" in r.stderr


def test_an_oversized_program_file_is_an_error(tmp_path):
    from npl.lang.files import MAX_SOURCE_BYTES
    with open(tmp_path / "big.npl", "wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)
    r = bad_input(tmp_path, ["check", "big.npl"])
    assert f"npl reads files of at most {MAX_SOURCE_BYTES:,} bytes" in r.stderr


# ================================================================ bounds on a fill

SPLIT_TEN = "\n\n".join(
    [f"{INC}:\n    return n + " + " + ".join(f"part{i}(n)" for i in range(10)) + " - 9 * n"]
    + [f"def part{i}(n: int) -> int:\n    \"\"\"Part {i}.\"\"\"\n    ..." for i in range(10)])


def test_a_fill_may_open_only_max_subholes_holes(tmp_path):
    two_holes(tmp_path, attempts=2)
    r, requests = fill(tmp_path, by_hole([as_reply(SPLIT_TEN), GOOD_INC], [GOOD_DEC]))
    assert r.returncode == 0, r.stderr
    inc_requests = requests_for(requests, "inc")
    assert len(inc_requests) == 2 and len(requests) == 3         # no sub-hole was asked for
    assert ("opens 10 holes of its own" in last_user_message(inc_requests[1])
            and "max_subholes in npl.toml [fill]" in last_user_message(inc_requests[1]))


def test_model_calls_per_hole_are_capped_sub_holes_included(tmp_path):
    """Ten sub-holes allowed, but 6 calls for the whole tree: the fill stops
    at the cap and says so."""
    two_holes(tmp_path, attempts=4, extra="")
    (tmp_path / "npl.toml").write_text((tmp_path / "npl.toml").read_text().replace(
        "[fill]\n", "[fill]\nmax_subholes = 10\nmax_calls = 6\n"))

    names = ["inc", "dec"] + [f"part{i}" for i in range(10)]

    def respond(request):
        asked = asked_for(request, names)
        if asked == "dec":
            return GOOD_DEC
        if asked.startswith("part"):
            return "I cannot help with that."
        return as_reply(SPLIT_TEN)
    r, requests = fill(tmp_path, dynamic(respond))
    assert_clean_failure(r, 1)
    assert "used all 6 model calls" in r.stderr and "max_calls" in r.stderr
    assert len([q for q in requests if asked_for(q.json, names) != "dec"]) == 6
    assert locked(tmp_path) == {"dec": f"{DEC}:\n    return n - 1\n"}


def test_bidirectional_controls_are_diagnostics_in_programs_and_fills(tmp_path):
    from npl.compiler.driver import compile
    from npl.lang.diagnostics import CompileError
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        for place in (f'x = "{char}"', f"# a comment {char}", f"x = 1  # {char}"):
            with pytest.raises(CompileError) as err:
                compile(f"def main():\n    {place}\n", "t.npl")
            (diagnostic,) = err.value.diagnostics
            assert diagnostic.code == "E002" and "Trojan Source" in diagnostic.message
            assert diagnostic.span.line == 2
    compile('def main():\n    print("\\u202e")\n', "t.npl")          # the escape is fine
    two_holes(tmp_path)
    (tmp_path / "prog.npl").write_text(TWO_HOLES.replace("n + 1.", "n + 1.\u202e"))
    r = bad_input(tmp_path, ["check", "prog.npl"])
    assert "bidirectional control U+202E" in r.stderr


# ================================================================ sibling sub-holes

SPREAD = '''\
def spread(xs: list[int]) -> int:
    """The largest element of xs minus the smallest."""
    ...

example spread([3, 1, 4]) == 3
example spread([5]) == 0

def main():
    print(spread([2, 9, 4]))
'''
SPLIT_TWO = as_reply('''
def spread(xs: list[int]) -> int:
    return biggest(xs) - smallest(xs)

def biggest(xs: list[int]) -> int:
    """The largest element of xs."""
    ...

def smallest(xs: list[int]) -> int:
    """The smallest element of xs."""
    ...
''')


def siblings_provider(smallest_replies: list[str]):
    answers = list(smallest_replies)

    def respond(request):
        asked = asked_for(request, ["spread", "biggest", "smallest"])
        if asked == "biggest":
            return function_reply("def biggest(xs: list[int]) -> int", "return max(xs)")
        if asked == "smallest":
            return answers.pop(0) if len(answers) > 1 else answers[0]
        return SPLIT_TWO
    return dynamic(respond)


def test_a_fill_with_two_sub_holes_is_filled_and_checked_as_a_whole(tmp_path):
    (tmp_path / "prog.npl").write_text(SPREAD)
    write_settings(tmp_path, attempts=2)
    good = function_reply("def smallest(xs: list[int]) -> int", "return min(xs)")
    r, requests = fill(tmp_path, siblings_provider([good]))
    assert r.returncode == 0, r.stderr
    assert len(requests) == 3
    fills = locked(tmp_path)
    assert set(fills) == {"spread", "biggest", "smallest"}
    from npl.filling.lockfile import LockFile
    for entry in LockFile.load(tmp_path / "prog.npl.lock").entries.values():
        assert entry.verification["checks_passed"], entry.name      # checked with the whole
    r = run_npl(["run", "--frozen", "prog.npl"], tmp_path)
    assert (r.returncode, r.stdout) == (0, "7\n"), r.stderr


def test_siblings_that_fail_together_go_back_to_the_parent(tmp_path):
    (tmp_path / "prog.npl").write_text(SPREAD)
    write_settings(tmp_path, attempts=2)
    wrong = function_reply("def smallest(xs: list[int]) -> int", "return max(xs)")
    good = function_reply("def smallest(xs: list[int]) -> int", "return min(xs)")
    r, requests = fill(tmp_path, siblings_provider([wrong, good]))
    assert r.returncode == 0, r.stderr
    parent_requests = requests_for(requests, "spread", ("spread", "biggest", "smallest"))
    repair = last_user_message(parent_requests[1])
    assert "sub-holes 'biggest', 'smallest' were filled, but together they fail" in repair
    r = run_npl(["run", "--frozen", "prog.npl"], tmp_path)
    assert r.stdout == "7\n", r.stderr


# ================================================================ embedding conversions

class SneakyInt(int):
    def __add__(self, other):
        return "not an int"


class SneakyStr(str):
    def __add__(self, other):
        return 42


class SneakyList(list):
    def __iter__(self):
        return iter(["not", "ints"])


class SneakyTuple(tuple):
    def __len__(self):
        return 2


class SneakyDict(dict):
    def items(self):
        return [("k", "not an int")]


EMBEDDED = '''
def inc(x: int) -> int:
    return x + 1

def shout(s: str) -> str:
    return s + "!"

def total(xs: list[int]) -> int:
    return sum(xs)

def second(t: tuple[int, str]) -> str:
    return t[1]

def size(d: dict[str, int]) -> int:
    return sum(d.values())

def half(x: float) -> float:
    return x / 2
'''


def test_int_and_str_subclasses_become_exact_npl_values():
    import npl
    program = npl.compile_source(EMBEDDED, "embedded.npl")
    assert program.call("inc", SneakyInt(41)) == 42
    assert type(program.call("inc", SneakyInt(41))) is int
    assert program.call("shout", SneakyStr("hi")) == "hi!"
    assert program.call("total", SneakyList([1, 2, 3])) == 6
    assert program.call("second", SneakyTuple((1, "b"))) == "b"
    with pytest.raises(npl.api.NplTypeError, match="tuple"):
        program.call("second", SneakyTuple((1, "b", "a third the length hides")))
    assert program.call("size", SneakyDict({"a": 1, "b": 2})) == 3
    assert program.call("half", SneakyInt(3)) == 1.5


def test_a_value_that_does_not_fit_names_its_parameter():
    import npl
    from npl.api import NplTypeError
    program = npl.compile_source(EMBEDDED, "embedded.npl")
    with pytest.raises(NplTypeError, match=r"inc\(\) argument 'x': expected int, got str"):
        program.call("inc", "41")
    with pytest.raises(NplTypeError, match=r"second\(\) argument 't'"):
        program.call("second", (1, 2))

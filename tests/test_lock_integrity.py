"""Lock file integrity through the CLI: hand edits are detected and not used,
`npl verify` re-verifies and restamps, hand-written (manual) fills are
verified before use, concurrent `npl fill` processes lose nothing, and a
`npl fill` killed at any moment leaves the previous lock valid."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import npl_command
from fakellm import FakeLLMServer, dynamic, prompt_text, reply
from safety_harness import (assert_clean_failure, function_reply, run_npl, stamp_fills,
                            write_settings)

PROGRAM = '''\
def twice(x: int) -> int:
    """Return twice x."""
    ...

example twice(3) == 6

def shout(s: str) -> str:
    """s in capitals followed by an exclamation mark."""
    ...

example shout("hi") == "HI!"

def main():
    print(twice(21), shout("npl"))
'''
TWICE = "def twice(x: int) -> int:\n    return 2 * x\n"
SHOUT = 'def shout(s: str) -> str:\n    return s.upper() + "!"\n'


def load_lock(folder: Path):
    from npl.filling.lockfile import LockFile
    return LockFile.load(folder / "prog.npl.lock")


def by_name(lock) -> dict:
    return {e.name: e for e in lock.entries.values()}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "prog.npl").write_text(PROGRAM)
    write_settings(tmp_path, attempts=2)
    stamp_fills(tmp_path / "prog.npl", {"twice": TWICE, "shout": SHOUT})
    return tmp_path


def edit_lock(folder: Path, old: str, new: str) -> None:
    path = folder / "prog.npl.lock"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_hand_edited_entry_is_reported_and_never_run(project):
    r = run_npl(["run", "--frozen", "prog.npl"], project)
    assert (r.returncode, r.stdout, r.stderr) == (0, "42 NPL!\n", "")
    edit_lock(project, "return 2 * x", "return 3 * x")
    lock = load_lock(project)
    assert "twice" not in by_name(lock) and [t.name for t in lock.tampered] == ["twice"]
    # --frozen: the edited entry counts as missing -> exit 2 naming the hole
    r = run_npl(["run", "--frozen", "prog.npl"], project)
    assert_clean_failure(r, 2)
    assert "lock entry for 'twice' was edited by hand" in r.stderr
    assert "hole 'twice' has no fill" in r.stderr and r.stdout == ""
    # without --frozen: warned, ignored, refilled by the model; 3 * x never runs
    with FakeLLMServer(default=function_reply("def twice(x: int) -> int", "return x + x")) as server:
        r = run_npl(["run", "--model", "openai/m", "prog.npl"], project,
                    {"OPENAI_BASE_URL": server.base_url})
        assert len(server.requests) == 1
    assert r.returncode == 0, r.stderr
    assert "lock entry for 'twice' was edited by hand" in r.stderr
    assert r.stdout == "42 NPL!\n"
    assert "x + x" in by_name(load_lock(project))["twice"].fill and not load_lock(project).tampered


def test_edited_verification_record_or_provenance_is_tampering_too(project):
    text = (project / "prog.npl.lock").read_text()
    first = text.index('model = "m"')                 # only the first entry's provenance
    (project / "prog.npl.lock").write_text(text[:first] + 'model = "gpt-9"' + text[first + 11:])
    lock = load_lock(project)
    assert len(lock.tampered) == 1 and len(lock.entries) == 1
    r = run_npl(["check", "prog.npl"], project)
    assert r.returncode == 0 and "was edited by hand" in r.stderr and "missing" in r.stdout


def set_manual(folder: Path, name: str, new_fill: str | None = None) -> None:
    """Edit `name`'s entry by hand into a hand-written one: source manual,
    no hash (and, optionally, new fill text)."""
    import tomllib
    import tomli_w
    path = folder / "prog.npl.lock"
    doc = tomllib.loads(path.read_text())
    (table,) = [t for t in doc["holes"].values() if t["name"] == name]
    del table["hash"]
    table["provenance"]["source"] = "manual"
    if new_fill is not None:
        table["fill"] = new_fill
    path.write_text(tomli_w.dumps(doc, multiline_strings=True))


def test_npl_verify_restamps_valid_manual_and_edited_entries(project):
    set_manual(project, "twice", "def twice(x: int) -> int:\n    return x * 2\n")
    edit_lock(project, "s.upper()", "s.strip().upper()")
    lock = load_lock(project)
    assert by_name(lock)["twice"].needs_verification and [t.name for t in lock.tampered] == ["shout"]
    r = run_npl(["run", "--frozen", "prog.npl"], project)
    assert r.returncode == 2                      # neither is used before verification
    before = (project / "prog.npl.lock").read_bytes()
    r = run_npl(["verify", "--check", "prog.npl"], project)
    assert r.returncode == 0 and "2 verified, 0 failed" in r.stdout, r.stderr
    assert "'shout' (manual); hand-edited, so ignored until `npl verify` stamps it" in r.stdout
    assert (project / "prog.npl.lock").read_bytes() == before          # --check writes nothing
    r = run_npl(["verify", "prog.npl"], project)
    assert r.returncode == 0, r.stderr
    assert "2 verified, 0 failed" in r.stdout
    lock = load_lock(project)
    entries = by_name(lock)
    assert not lock.tampered and set(entries) == {"twice", "shout"}
    assert all(e.hash and not e.needs_verification for e in entries.values())
    assert entries["twice"].provenance.source == "manual" and "x * 2" in entries["twice"].fill
    assert entries["shout"].provenance.source == "manual"          # no longer the model's text
    assert entries["shout"].verification["checks_passed"] == ["example@11"]
    r = run_npl(["run", "--frozen", "prog.npl"], project)
    assert (r.returncode, r.stdout, r.stderr) == (0, "42 NPL!\n", "")


def test_npl_verify_reports_failures_and_stamps_nothing_bad(project, tmp_path):
    sentinel = tmp_path / "pwned"
    set_manual(project, "twice", "def twice(x: int) -> int:\n    return x + 2\n")     # wrong
    edit_lock(project, "s.upper()", f"__import__('os').system('touch {sentinel}')")   # hostile
    r = run_npl(["verify", "prog.npl"], project)
    assert_clean_failure(r, 1)
    assert "lock entry for hole 'twice' failed verification" in r.stderr
    assert "left side is 5, right side is 6" in r.stderr
    assert "lock entry for hole 'shout' failed verification" in r.stderr
    assert "undefined name '__import__'" in r.stderr
    assert "0 verified, 2 failed" in r.stdout
    assert not sentinel.exists()
    lock = load_lock(project)
    assert by_name(lock)["twice"].needs_verification and [t.name for t in lock.tampered] == ["shout"]
    r = run_npl(["run", "--frozen", "prog.npl"], project)
    assert r.returncode == 2 and "twice" in r.stderr and "shout" in r.stderr


def test_npl_fill_verifies_a_manual_entry_without_a_model(project):
    set_manual(project, "shout", 'def shout(s: str) -> str:\n    return s.upper() + "!"\n')
    r = run_npl(["fill", "prog.npl"], project)          # no model configured at all
    assert r.returncode == 0, r.stderr
    shout = by_name(load_lock(project))["shout"]
    assert shout.provenance.source == "manual" and shout.hash and not shout.needs_verification
    r = run_npl(["run", "--frozen", "prog.npl"], project)
    assert (r.returncode, r.stdout) == (0, "42 NPL!\n"), r.stderr


def test_npl_fill_refills_a_failing_manual_entry_with_a_warning(project):
    set_manual(project, "shout", 'def shout(s: str) -> str:\n    return s + "!"\n')
    with FakeLLMServer(default=function_reply("def shout(s: str) -> str", 'return s.upper() + "!!"[:1]')) as server:
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], project,
                    {"OPENAI_BASE_URL": server.base_url})
    assert r.returncode == 0, r.stderr
    assert "hand-written fill of 'shout' in the lock file failed verification" in r.stderr
    assert by_name(load_lock(project))["shout"].provenance.source == "openai/m"


# ---------------------------------------------------------------- concurrency and crashes

MANY = 6


def many_program(folder: Path) -> None:
    parts = [f'def f{i}(x: int) -> int:\n    """Return x plus {i}."""\n    ...\n\nexample f{i}(1) == {1 + i}\n'
             for i in range(MANY)]
    (folder / "many.npl").write_text("\n".join(parts))


def answer_for(model_holes: dict[str, set[int]], delay: float = 0.0):
    """A fill for hole f<i> when the requesting process (by model name)
    owns i, else a wrong one."""
    def respond(request):
        text = prompt_text(request).split("Write this Python function")[1]
        i = int(re.search(r"def f(\d+)\(", text).group(1))
        owned = i in model_holes.get(request.get("model"), set())
        body = f"return x + {i}" if owned else "return -1"
        return reply(function_reply(f"def f{i}(x: int) -> int", body), delay=delay)
    return dynamic(respond)


def test_concurrent_fills_never_lose_or_corrupt_entries(tmp_path):
    many_program(tmp_path)
    write_settings(tmp_path, attempts=1)
    owners = {"a": {0, 2, 4}, "b": {1, 3, 5}}
    with FakeLLMServer(default=answer_for(owners, delay=0.05)) as server:
        # no module library: each process must fill its own holes itself
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "NPL_LIBRARY": "off"}
        procs = [subprocess.Popen(npl_command() + ["fill", "many.npl", "--model", f"openai/{m}"],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for m in owners]
        outs = [p.communicate(timeout=120) for p in procs]
    # each process fails the three holes it does not own, and fills the others
    assert [p.returncode for p in procs] == [1, 1], outs
    from npl.filling.lockfile import LockFile
    lock = LockFile.load(tmp_path / "many.npl.lock")
    assert not lock.tampered
    assert sorted(e.name for e in lock.entries.values()) == [f"f{i}" for i in range(MANY)]
    for e in lock.entries.values():
        i = int(e.name[1:])
        assert f"return x + {i}" in e.fill
        assert e.provenance.source == ("openai/a" if i in owners["a"] else "openai/b")
    r = run_npl(["test", "--frozen", "many.npl"], tmp_path)
    assert r.returncode == 0 and f"{MANY} passed, 0 failed" in r.stdout, r.stdout + r.stderr


def worker_pids(parent: int) -> list[int]:
    """Sandbox workers whose parent is `parent` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"npl.filling.sandbox" in cmdline:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigkill_at_random_moments_leaves_the_previous_lock_valid(tmp_path):
    many_program(tmp_path)
    write_settings(tmp_path, attempts=1)
    stamp_fills(tmp_path / "many.npl", {"f0": "def f0(x: int) -> int:\n    return x + 0\n"})
    everyone = {"m": set(range(MANY))}
    rng = random.Random(20240611)
    lock_path = tmp_path / "many.npl.lock"
    from npl.filling.lockfile import LockFile
    previous = LockFile.load(lock_path).entries
    with FakeLLMServer(default=answer_for(everyone, delay=0.02)) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url}
        for _ in range(4):
            proc = subprocess.Popen(npl_command() + ["fill", "many.npl", "--model", "openai/m"],
                                    cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.4, 2.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            lock = LockFile.load(lock_path)             # parses: never half-written
            assert not lock.tampered
            for key, entry in previous.items():         # nothing that was there is lost
                assert lock.entries[key] == entry
            for entry in lock.entries.values():
                assert f"return x + {entry.name[1:]}" in entry.fill
            previous = lock.entries
            if len(previous) == MANY:
                break
        r = subprocess.run(npl_command() + ["fill", "many.npl", "--model", "openai/m"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(LockFile.load(lock_path).entries) == MANY
    assert not list(tmp_path.glob(".many.npl.lock.*.tmp"))      # leftovers cleaned up


def test_killed_fill_leaves_no_candidate_running(tmp_path):
    """A worker busy with a long built-in operation dies with its npl."""
    (tmp_path / "prog.npl").write_text(PROGRAM)
    write_settings(tmp_path, attempts=1, seconds=100.0)
    endless = function_reply("def twice(x: int) -> int", "return sum(range(10**15)) + 2 * x")
    with FakeLLMServer(default=endless) as server:
        env = {**os.environ, "OPENAI_BASE_URL": server.base_url}
        proc = subprocess.Popen(npl_command() + ["fill", "prog.npl", "--model", "openai/m"],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        workers = []
        while not workers and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            workers = worker_pids(proc.pid)
        assert workers, "no sandbox worker started"
        time.sleep(1.5)                                   # let it get into the long operation
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        gone_by = time.monotonic() + 10
        while any(alive(w) for w in workers) and time.monotonic() < gone_by:
            time.sleep(0.1)
        still = [w for w in workers if alive(w)]
        for w in still:                                   # never leave it burning a core
            os.kill(w, signal.SIGKILL)
        assert not still, "sandbox worker outlived its npl process"

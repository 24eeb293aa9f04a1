"""Verification limits ([limits] in npl.toml): the step budget, the wall-time
limit and the memory limit each reject a candidate with that reason, the
reason goes back to the model in the repair prompt, and the next candidate is
accepted. Verification never hangs (a single long built-in operation is
killed at the job deadline) and never exhausts the machine (a memory-hungry
candidate fails inside the sandbox worker, not in npl).
"""
from __future__ import annotations

import resource
import time

import pytest

from fakellm import FakeLLMServer
from safety_harness import (assert_clean_failure, function_reply, last_user_message, run_npl,
                            write_settings)

PROGRAM = '''\
def sum_to(n: int) -> int:
    """The sum 0 + 1 + ... + n."""
    ...

example sum_to(2000) == 2001000
example sum_to(3) == 6
'''
SIG = "def sum_to(n: int) -> int"
LOOP = "total = 0\nfor i in range(n + 1):\n    total += i\nreturn total"
FORMULA = "return n * (n + 1) // 2"


def fill_with(tmp_path, replies, **limits):
    (tmp_path / "prog.npl").write_text(PROGRAM)
    write_settings(tmp_path, attempts=len(replies), **limits)
    with FakeLLMServer(replies) as server:
        start = time.monotonic()
        r = run_npl(["fill", "prog.npl", "--model", "openai/m"], tmp_path,
                    {"OPENAI_BASE_URL": server.base_url})
        elapsed = time.monotonic() - start
        return r, server.requests, elapsed


def locked_fill(tmp_path) -> str:
    from npl.filling.lockfile import LockFile
    (entry,) = LockFile.load(tmp_path / "prog.npl.lock").entries.values()
    return entry.fill


def verify_body(tmp_path, body: str, **limits):
    from npl.compiler.driver import compile
    from npl.filling.candidate import verify
    from npl.filling.checks import Limits
    path = str(tmp_path / "prog.npl")
    comp = compile(PROGRAM, path, strict_fills=False)
    candidate = f"{SIG}:\n" + "\n".join("    " + ln for ln in body.splitlines()) + "\n"
    return verify(PROGRAM, path, {}, comp.holes[0], candidate, Limits(**limits))


def test_step_limit_from_npl_toml_rejects_and_feeds_repair(tmp_path):
    # the loop takes ~2000 steps: over a budget of 500, well under the default
    assert verify_body(tmp_path, LOOP, steps=100_000, seconds=5, memory_mb=256).accepted
    r, requests, _ = fill_with(tmp_path, [function_reply(SIG, LOOP), function_reply(SIG, FORMULA)],
                               steps=500)
    assert r.returncode == 0, r.stderr
    repair = last_user_message(requests[1])
    assert "step limit exceeded (500 steps)" in repair
    assert "verification limit" in repair and "sum_to(2000)" in repair
    assert "n * (n + 1) // 2" in locked_fill(tmp_path)


def test_time_limit_from_npl_toml_rejects_and_feeds_repair(tmp_path):
    spin = "i = 0\nwhile i >= 0:\n    i += 1\nreturn i"
    r, requests, elapsed = fill_with(tmp_path, [function_reply(SIG, spin), function_reply(SIG, FORMULA)],
                                     steps=10**12, seconds=0.5)
    assert r.returncode == 0, r.stderr
    assert "time limit exceeded (0.5 s)" in last_user_message(requests[1])
    assert elapsed < 30


def test_single_long_operation_is_killed_at_the_deadline(tmp_path):
    """`sum(range(10**13))` is one built-in call: no step check runs inside
    it, so the sandbox's wall-clock deadline (2 x seconds + 5 s) kills the
    worker; the model hears it ran past the time limit, and filling goes on."""
    r, requests, elapsed = fill_with(
        tmp_path, [function_reply(SIG, "return sum(range(10**13)) - sum(range(10**13)) + n"),
                   function_reply(SIG, FORMULA)], seconds=0.5)
    assert r.returncode == 0, r.stderr
    repair = last_user_message(requests[1])
    assert "It was stopped: it ran past the time limit" in repair and "at most 6 s" in repair
    assert elapsed < 40, elapsed
    assert "n * (n + 1) // 2" in locked_fill(tmp_path)


def test_memory_limit_from_npl_toml_rejects_and_feeds_repair(tmp_path):
    hog = "xs = [n] * 30_000_000\nreturn n * (n + 1) // 2 + len(xs) - len(xs)"   # ~240 MB
    other_hog = hog.replace("xs", "ys")     # a repeated reply would be resampled instead
    r, requests, _ = fill_with(tmp_path, [function_reply(SIG, hog), function_reply(SIG, other_hog)],
                               memory_mb=64)
    assert_clean_failure(r, 1)
    assert "out of memory" in last_user_message(requests[1])
    assert "out of memory" in r.stderr and "verification limit" in r.stderr
    assert not (tmp_path / "prog.npl.lock").exists()


def test_memory_hungry_candidate_fails_in_the_worker_not_here(tmp_path):
    """The same ~240 MB candidate is rejected with "out of memory" under a
    64 MiB limit and accepted under 1024 MiB: the cap that stops it is the
    worker's RLIMIT_DATA (this process has no cap, so in here it would have
    been accepted either way)."""
    assert resource.getrlimit(resource.RLIMIT_DATA)[0] == resource.RLIM_INFINITY
    hog = "xs = [n] * 30_000_000\nreturn n * (n + 1) // 2 + len(xs) - len(xs)"
    verdict = verify_body(tmp_path, hog, steps=100_000, seconds=5, memory_mb=64)
    assert (verdict.accepted, verdict.stage) == (False, "limit")
    assert "out of memory" in verdict.feedback
    assert verify_body(tmp_path, hog, steps=100_000, seconds=5, memory_mb=1024).accepted


@pytest.mark.parametrize("toml, message", [
    ('[limits]\nsteps = "lots"\n', "limits.steps must be an integer of at least 1, not 'lots'"),
    ("[limits]\nseconds = 0\n", "limits.seconds must be a number of at least 0.001, not 0"),
    ("[limits]\nmemory_mb = 1.5\n", "limits.memory_mb must be an integer"),
    ("[fill]\nattempts = 0\n", "fill.attempts must be an integer of at least 1, not 0"),
    ("[fill]\nheld_out = 1.0\n", "fill.held_out must be a number of at least 0.0 below 1"),
    ('[fill]\nrepair = "never"\n', "fill.repair must be one of 'auto', 'all', 'diagnostics', "
                                   "not 'never'"),
    ("[fill]\nrepair = 1\n", "fill.repair must be one of 'auto', 'all', 'diagnostics', not 1"),
])
def test_bad_limit_settings_are_diagnostics_not_silently_off(tmp_path, toml, message):
    (tmp_path / "prog.npl").write_text("def main():\n    print(1)\n")
    (tmp_path / "npl.toml").write_text(toml)
    from npl.lang.diagnostics import CompileError
    from npl.project import Settings
    with pytest.raises(CompileError) as err:
        Settings.load(tmp_path)
    assert message in err.value.render()
    assert "npl.toml:2:1" in err.value.render()


@pytest.mark.parametrize("toml, message, line", [
    ("# limits\nattempts = 6\n", "unknown setting 'attempts'; it belongs under [fill]", 2),
    ("[fill]\natempts = 3\n", "unknown setting [fill] 'atempts'; did you mean 'attempts'?", 2),
    ("[limits]\nsteps = 10\nmemroy_mb = 64\n", "[limits] 'memroy_mb'; did you mean 'memory_mb'?", 3),
    ("[limits]\nattempts = 2\n", "unknown setting [limits] 'attempts'; it belongs under [fill]", 2),
    ('modle = "openai/x"\n', "unknown setting 'modle'; did you mean 'model'?", 1),
    ("colour = 1\n", "unknown setting 'colour' (known: model, fill, limits, oracle, prices, provider)", 1),
    ("model = 3\n", 'model must be a string such as "openai/gpt-4o-mini", not 3', 1),
    ("provider = 3\n", "[provider] must be a table", 1),
])
def test_unknown_or_misplaced_settings_are_diagnostics(tmp_path, toml, message, line):
    """A misspelt or misplaced key would otherwise be ignored without a word."""
    (tmp_path / "npl.toml").write_text(toml)
    from npl.lang.diagnostics import CompileError
    from npl.project import Settings
    with pytest.raises(CompileError) as err:
        Settings.load(tmp_path)
    assert message in err.value.render()
    assert f"npl.toml:{line}:1: error[E042]" in err.value.render()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_program_thread_dying_outside_its_job_does_not_hang(monkeypatch):
    """Under memory pressure a MemoryError can strike while the program
    thread reports a result; the caller must get an error, not wait forever
    (this hung a capped fuzzing run before runtime/execution.py checked)."""
    from npl.runtime import execution

    def dies(job):                 # the thread ends without ever marking the job done
        raise MemoryError("while reporting")
    monkeypatch.setattr(execution._Job, "run", dies)
    monkeypatch.setattr(execution, "_idle_workers", [])
    start = time.monotonic()
    with pytest.raises(MemoryError):
        execution.run_deep(lambda: 1)
    assert time.monotonic() - start < 5
    assert execution._idle_workers == []          # the dead thread is not reused
    monkeypatch.undo()
    assert execution.run_deep(lambda: 41) + 1 == 42

#!/usr/bin/env python3
"""Running a solution against a problem's tests, in a child process.

    judge(kind, solution_file, function, tests, timeout) -> Verdict

`kind` is "npl" (a filled NPL program: loaded with its lock, frozen, and
called through the embedding API, npl.load(...).call) or "python" (a
model's Python reply: exec'd, then its function called). Each test calls
the function with the test's arguments and compares the result with `==`,
as MBPP's `assert candidate(...) == expected` does.

The solution runs in a child process (this file run as a script), never in
the benchmark's: the Python arm runs code a model wrote. The child gets a
temporary working folder, an environment without the parent's secrets,
limits on CPU seconds, address space and file size (resource.setrlimit),
`timeout` seconds per test (SIGALRM) and a wall-clock limit on the whole.
This is a benchmark harness's isolation, not a sandbox against a hostile
author: run it only on models you would let write files in a temporary
folder.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from problem import Test, decode, encode  # noqa: E402

MEMORY_BYTES = 4 << 30             # address space of the child
FILE_BYTES = 16 << 20              # largest file the child may write
STARTUP_SECONDS = 60.0             # allowance for the child's start (imports, compiling)
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR",
            "NPL_CACHE_DIR")


@dataclass
class Verdict:
    """Per test: passed or not, and what went wrong (a wrong value, an
    exception, a timeout); `error` is set when no test could run at all."""
    passed: list[bool] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def all_passed(self) -> bool:
        return bool(self.passed) and all(self.passed) and not self.error


def judge(kind: str, solution: Path, function: str, tests: list[Test], timeout: float = 5.0) -> Verdict:
    """Run `tests` against `solution` (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="judge-") as work:
        spec = Path(work) / "tests.json"
        spec.write_text(json.dumps({"kind": kind, "solution": str(solution.resolve()),
                                    "function": function, "timeout": timeout,
                                    "tests": [[encode(a), encode(e)] for a, e in tests]}))
        wall = STARTUP_SECONDS + timeout * (len(tests) + 1)
        env = {k: v for k, v in os.environ.items() if k in KEEP_ENV}
        try:
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(spec)],
                                  cwd=work, env=env, capture_output=True, text=True, timeout=wall,
                                  preexec_fn=lambda: limit_child(wall))
        except subprocess.TimeoutExpired:
            return Verdict(error=f"the tests ran past {wall:.0f} s")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return Verdict(error=f"the test process failed: {tail[0][:300]}")
    try:
        result = json.loads(lines[-1])
        return Verdict(result["passed"], result["notes"], result.get("error", ""))
    except (ValueError, KeyError, TypeError):       # the solution ended the process itself
        return Verdict(error=f"the test process printed no verdict: {lines[-1][:200]}")


def limit_child(wall: float) -> None:
    """Resource limits of the child (runs between fork and exec)."""
    cpu = int(wall) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ---------------------------------------------------------------- the child

class TestTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise TestTimeout()


def load_function(kind: str, solution: str, function: str):
    """The callable under test."""
    if kind == "npl":
        from npl.api import load
        program = load(solution, frozen=True)
        return lambda *args: program.call(function, *args)
    namespace: dict[str, Any] = {"__name__": "solution"}
    code = Path(solution).read_text()
    exec(compile(code, "solution.py", "exec"), namespace)      # the model's code
    if not callable(namespace.get(function)):
        raise NameError(f"the reply defines no function {function}")
    return namespace[function]


def run_tests(spec: dict) -> dict:
    signal.signal(signal.SIGALRM, on_alarm)
    timeout = float(spec["timeout"])
    try:
        signal.setitimer(signal.ITIMER_REAL, STARTUP_SECONDS)
        fn = load_function(spec["kind"], spec["solution"], spec["function"])
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:            # a reply that does not load fails every test
        signal.setitimer(signal.ITIMER_REAL, 0)
        return {"passed": [], "notes": [], "error": f"{type(exc).__name__}: {exc}"[:300]}
    passed, notes = [], []
    for args, expected in spec["tests"]:
        args, expected = decode(args), decode(expected)
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            actual = fn(*args)
            signal.setitimer(signal.ITIMER_REAL, 0)
            ok = bool(actual == expected)
            note = "" if ok else f"got {actual!r:.80}, expected {expected!r:.80}"
        except TestTimeout:
            ok, note = False, f"timed out after {timeout:g} s"
        except BaseException as exc:        # the solution's own failure, whatever it is
            signal.setitimer(signal.ITIMER_REAL, 0)
            ok, note = False, f"{type(exc).__name__}: {exc}"[:200]
        passed.append(ok)
        notes.append(note)
    return {"passed": passed, "notes": notes}


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    sys.setrecursionlimit(10_000)
    result = run_tests(spec)
    sys.stdout.flush()
    print("\n" + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))

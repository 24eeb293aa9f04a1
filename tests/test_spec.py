"""The spec programs (tests/spec/**) and the shared conformance suite, run
through the `npl` command exactly as ../shared/conformance/run.py runs them.

For each PROG.npl that has a PROG.out or a PROG.expect beside it (other .npl
files are modules that those programs import):
  - PROG.out: `npl run --frozen PROG.npl` in PROG's folder must exit 0 and
    print exactly PROG.out;
  - PROG.expect: lines `command: run|test|check|...`, `exit: N`, and
    `stdout: TEXT` / `stderr: TEXT` / `output: TEXT` needles, each of which
    must occur in that stream (`output` is stdout and stderr together).
    `run` is run with --frozen; any other command as `npl COMMAND PROG.npl`.
Whatever the expectation, no program may make `npl` show a Python
traceback or report a bug in itself (an internal error; docs/reference.md §9).

A program with a PROG.fills.toml beside it has filled holes: its folder is
copied to a temporary one and the lock file is written there from those
fills (tests/lockfill.py explains why no lock file is committed).

Each program is one subprocess. The selected ones are all started when the
first of these tests runs, one per CPU at a time, and each test then waits
for its own program's result.
"""
from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from conftest import CONFORMANCE, npl_command
from lockfill import with_lock

TESTS = Path(__file__).resolve().parent
SPEC = TESTS / "spec"
TIMEOUT = 120
PYTHON_TRACEBACK = "Traceback (most recent call last)"
# How npl reports a bug in itself (npl/cli.py, runtime/errors.py).
NPL_BUG_MARKERS = ("internal error", "please report this", "this is a bug in NPL")
SECTIONS = {"lexical", "types", "declarations", "statements", "expressions", "builtins",
            "holes", "kernels", "errors", "cli"}


@dataclass
class Expectation:
    command: str = "run"
    exit: int = 0
    stdout: Optional[str] = None                       # exact stdout (.out files)
    needles: list[tuple[str, str]] = field(default_factory=list)


def programs(folder: Path) -> list[Path]:
    """Every program under `folder` that has an expectation file."""
    return sorted(p for p in folder.rglob("*.npl")
                  if p.with_suffix(".out").exists() or p.with_suffix(".expect").exists())


def expectation(prog: Path) -> Expectation:
    out = prog.with_suffix(".out")
    if out.exists():
        return Expectation(stdout=out.read_text(encoding="utf-8"))
    exp = Expectation()
    for line in prog.with_suffix(".expect").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "command":
            exp.command = value
        elif key == "exit":
            exp.exit = int(value)
        elif key in ("stdout", "stderr", "output"):
            exp.needles.append((key, value))
        elif line.strip():
            raise ValueError(f"{prog.with_suffix('.expect')}: unknown line {line!r}")
    return exp


def isolated_env(tmp: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every `npl` run: private cache and module library,
    no model configured, tracebacks hidden (the default)."""
    env = dict(os.environ)
    for name in ("NPL_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                 "NPL_DEBUG", "NPL_JIT", "NPL_DEVICE"):
        env.pop(name, None)
    cache = tmp.getbasetemp() / "npl-cache"
    cache.mkdir(exist_ok=True)
    env["NPL_CACHE_DIR"] = str(cache)
    env["NPL_LIBRARY"] = str(tmp.mktemp("spec-library"))
    return env


def run_npl(prog: Path, exp: Expectation, env: dict[str, str]) -> subprocess.CompletedProcess:
    args = [exp.command, "--frozen", prog.name] if exp.command == "run" else [exp.command, prog.name]
    return subprocess.run(npl_command() + args, cwd=prog.parent, capture_output=True, text=True,
                          timeout=TIMEOUT, env=env)


@pytest.fixture(scope="module")
def results(request, tmp_path_factory) -> dict[Path, Future]:
    """Start the selected programs, one worker per CPU."""
    module = request.module
    selected = [item.callspec.params["prog"] for item in request.session.items
                if getattr(item, "module", None) is module and hasattr(item, "callspec")
                and isinstance(item.callspec.params.get("prog"), Path)]   # not an empty set
    env = isolated_env(tmp_path_factory)
    # Lock files are written here, before the workers start: writing one
    # compiles the program in this process, which is not thread-safe.
    filled = tmp_path_factory.mktemp("filled")
    runnable = {prog: with_lock(prog, filled) for prog in selected}
    pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    futures = {prog: pool.submit(run_npl, path, expectation(prog), env)
               for prog, path in runnable.items()}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def check(prog: Path, results: dict[Path, Future]) -> None:
    exp = expectation(prog)
    p = results[prog].result()
    context = f"\n--- stdout\n{p.stdout[-2000:]}\n--- stderr\n{p.stderr[-2000:]}"
    assert PYTHON_TRACEBACK not in p.stdout + p.stderr, "a Python traceback leaked" + context
    assert not any(m in p.stderr for m in NPL_BUG_MARKERS), "npl reported a bug in itself" + context
    assert p.returncode == exp.exit, f"exit {p.returncode}, wanted {exp.exit}" + context
    if exp.stdout is not None:
        assert p.stdout == exp.stdout, "stdout differs" + context
    streams = {"stdout": p.stdout, "stderr": p.stderr, "output": p.stdout + p.stderr}
    for key, text in exp.needles:
        assert text in streams[key], f"{key} lacks {text!r}" + context


SPEC_PROGRAMS = programs(SPEC)
CONFORMANCE_PROGRAMS = programs(CONFORMANCE) if CONFORMANCE.is_dir() else []


def test_spec_tree_covers_every_section():
    """Guards against a glob that silently matches nothing."""
    assert {p.relative_to(SPEC).parts[0] for p in SPEC_PROGRAMS} >= SECTIONS


def test_every_diagnostic_code_has_an_error_program():
    """Each code in lang/diagnostics.py CODES is asserted by some .expect file."""
    from npl.lang.diagnostics import CODES
    expects = "\n".join(p.read_text(encoding="utf-8") for p in SPEC.rglob("*.expect"))
    missing = [code for code in CODES if f"error[{code}]" not in expects]
    assert not missing, f"no spec program expects {missing}"


def test_every_builtin_and_method_is_exercised():
    """Each built-in function and method of docs/reference.md §6 is called by some
    spec program that runs successfully (a .out program)."""
    from npl.lang.builtin_sigs import (BUILTIN_FUNCTIONS, DICT_METHODS, LIST_METHODS,
                                       SET_METHODS, STR_METHODS)
    text = "\n".join(p.read_text(encoding="utf-8") for p in SPEC_PROGRAMS
                     if p.with_suffix(".out").exists())
    missing = [f for f in sorted(BUILTIN_FUNCTIONS) if not re.search(rf"(?<![.\w]){f}\(", text)]
    methods = {*STR_METHODS, *LIST_METHODS, *DICT_METHODS, *SET_METHODS, "sort"}
    missing += [f".{m}()" for m in sorted(methods) if f".{m}(" not in text]
    assert not missing, f"no spec program calls {missing}"


@pytest.mark.parametrize("prog", SPEC_PROGRAMS, ids=lambda p: str(p.relative_to(SPEC)))
def test_spec_program(prog: Path, results):
    check(prog, results)


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason=f"no conformance suite at {CONFORMANCE}")
@pytest.mark.parametrize("prog", CONFORMANCE_PROGRAMS, ids=lambda p: p.name)
def test_conformance_program(prog: Path, results):
    check(prog, results)

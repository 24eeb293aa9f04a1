"""Loading a program into the runtime for the CLI: from a `Compilation`
(compiler/driver.py) or from a program image of the compile cache.

Either way the result is a loaded program with its functions defined, its
constants initialised and the JIT attached (runtime/jit.py; the same
tiering either way), ready for `run_main(argv)`: `load_main` gives a
runtime/codegen.py `Program`, `load_image` a runtime/image.py `Runner`.
npl/run_command.py runs both through one routine. `run_tests_cli` is what
`npl test` executes, returning the process exit status.

Importing this module imports no compiler module: `load_image` is on the
start-up path of a cached `npl run`.
"""
from __future__ import annotations

import sys

from .errors import NplRuntimeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from npl.lang.diagnostics import Diagnostic

    from .codegen import Program
    from .image import Runner


def load_compilation(comp, *, externs: Optional[dict] = None, step_limit: Optional[int] = None,
                     time_limit: Optional[float] = None, device: Optional[str] = None) -> Program:
    """device: "cpu" or "cuda" for the kernels (default: NPL_DEVICE, else
    "cpu"); "cuda" without a usable GPU raises runtime.cuda.DeviceError."""
    from .codegen import load
    program = load(comp.module, sources=comp.sources, step_limit=step_limit,
                   time_limit=time_limit, externs=externs)
    if step_limit is None and time_limit is None:
        from .jit import attach_jit
        attach_jit(program, comp, device=device)
    return program


def missing_externs(comp, externs: Optional[dict]) -> list[Diagnostic]:
    from npl.lang.diagnostics import Diagnostic
    supplied = externs or {}
    out = []
    for ext in comp.module.externs:
        if ext.name not in supplied:
            out.append(Diagnostic("E050", f"extern function '{ext.name}' is not supplied: "
                                  "externs are bound by the embedding host (npl.load(..., externs={...}))",
                                  ext.span))
    return out


def load_main(comp) -> Program:
    """`comp` loaded to run its main: a CompileError when it has no main or
    needs externs (which only an embedding host supplies); NplRuntimeError
    when initialising a constant fails."""
    from npl.lang.diagnostics import CompileError, Diagnostic
    problems = missing_externs(comp, None)
    if comp.module.main is None:
        problems.append(Diagnostic("E060", "no main function: add `def main():` (or "
                                   "`def main(args: list[str]):`)",
                                   _file_span(comp.path)))
    if problems:
        raise CompileError(problems, comp.sources)
    return load_compilation(comp)


def load_image(runner: Runner, targets: list, keys, recompile: Callable[[], Any]) -> Runner:
    """A cached program's `runner` initialised (NplRuntimeError when a
    constant fails) and its JIT attached over the entry's `targets` and
    `keys` (runtime/cached_jit.py); `recompile()` gives the program's
    Compilation when the JIT needs its IR."""
    runner.initialise()
    if targets:
        from .cached_jit import attach
        attach(runner, targets, keys, recompile)
    return runner


def _file_span(path: str):
    from npl.lang.ast import Span
    return Span(path, 1, 1, 1, 1)


def run_tests_cli(comp, *, max_examples: int = 100, setup: Optional[Callable] = None,
                  strict: bool = False, explain: Optional[Callable[[str], str]] = None) -> int:
    """Run `comp`'s examples and properties, print a line per test and a
    summary; the exit status. An example that checks an oracle's answer
    (SPEC section 10) measures the oracle: its results are reported as the
    oracle's accuracy and fail the run only when `strict`. `explain` gives
    what a failing test's location ("file:line") adds to its report (the
    locked fills it checks: npl/project.py `fills_checked_by`)."""
    from .testing import run_tests
    try:
        program = load_compilation(comp)       # initialises the constants
        if setup is not None:
            setup(program)
    except NplRuntimeError as err:
        print(err.render(), file=sys.stderr)
        return 1
    oracle_of = oracle_examples(comp.module)
    results = run_tests(program, comp.module, max_examples=max_examples)
    tests = [r for r in results if oracle_of.get(r.name) is None]
    failed = [r for r in tests if not r.passed]
    for r in results:
        oracle = oracle_of.get(r.name)
        mark = ("ok  " if r.passed else "FAIL") if oracle is None else \
            ("ok  " if r.passed else "MISS")
        line = f"{mark} {r.location} {r.name}" + (f" (oracle {oracle})" if oracle else "")
        if not r.passed and r.message:
            line += "\n     " + r.message.replace("\n", "\n     ")
        note = explain(r.location) if explain is not None and not r.passed else ""
        if note:
            line += "\n     " + note.replace("\n", "\n     ")
        print(line)
    note = " (the program has no examples or properties)" if not results else ""
    print(f"{len(tests) - len(failed)} passed, {len(failed)} failed{note}")
    missed = oracle_accuracy(results, oracle_of)
    return 1 if failed or (strict and missed) else 0


def oracle_examples(module) -> dict[str, str]:
    """{example name: oracle name} of the examples whose comparison calls an
    oracle directly (`example sentiment("...") == "positive"`)."""
    from npl.compiler import ir
    oracles = {f.name: f.source_name or f.name for f in module.functions if f.oracle}
    found = {}
    for t in module.tests:
        if t.kind == "example" and isinstance(t.expr, ir.Compare):
            for operand in t.expr.operands:
                if isinstance(operand, ir.Call) and operand.func in oracles:
                    found[t.name] = oracles[operand.func]
    return found


def oracle_accuracy(results, oracle_of: dict[str, str]) -> int:
    """Print each oracle's share of right answers; the number of misses."""
    by_oracle: dict[str, list[bool]] = {}
    for r in results:
        if r.name in oracle_of:
            by_oracle.setdefault(oracle_of[r.name], []).append(r.passed)
    missed = 0
    for name, passed in by_oracle.items():
        right = sum(passed)
        missed += len(passed) - right
        print(f"oracle {name}: {right} of {len(passed)} example(s) answered right "
              f"({100 * right // len(passed)}%)")
    return missed

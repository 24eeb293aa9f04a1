"""Fuzzing the whole pipeline with generated programs (tests/gen_programs.py).

  * well-typed programs run in the interpreter print exactly what CPython
    prints for the same text (NPL's semantics are Python's for this subset),
    and fail (NplRuntimeError) exactly when CPython raises;
  * numeric `@kernel` programs print the same under NPL_JIT=eager as under
    NPL_JIT=off (floats up to rounding; an int in a float slot prints as
    `3` in the interpreter and `3.0` compiled, so numbers compare by value);
  * random bytes, and mutations of generated programs, through parse, check,
    lowering and the IR verifier give a Compilation or a CompileError —
    never another exception; what compiles runs to completion or stops
    with an NplRuntimeError that is not an internal one.

The default run is bounded (a few seconds, derandomized by the test
profile). A longer run: NPL_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_programs.py
(every test then draws that many examples; see docs/security.md).
"""
from __future__ import annotations

import builtins
import contextlib
import io
import math
import os
import re
import sys
import types

from hypothesis import given, settings, strategies as st

from gen_programs import kernel_programs, programs

EXAMPLES = int(os.environ.get("NPL_FUZZ_EXAMPLES", "0"))


CAP_MB = 512                 # memory a generated program (and its CPython twin) may take


def budget(default: int) -> settings:
    return settings(max_examples=EXAMPLES or default, deadline=None)


@contextlib.contextmanager
def memory_cap(mb: int = CAP_MB):
    """Cap this process's data segment at its current size plus `mb` MiB
    while a generated program runs: a string doubled in a loop must raise
    MemoryError here, not take the machine's memory (as in the sandbox
    worker, filling/sandbox.py)."""
    import resource
    from npl.filling.sandbox import idle_data_bytes
    from npl.runtime.execution import run_deep
    run_deep(lambda: None)          # the program thread's big stack, mapped before the cap
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = idle_data_bytes() + mb * (1 << 20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def run_npl(source: str, *, jit: str = "off", limits: int = 0):
    """(stdout, NplRuntimeError or None, stderr) of running main()."""
    from npl.compiler.driver import compile
    from npl.runtime.errors import NplRuntimeError
    from npl.runtime.loader import load_compilation
    comp = compile(source, "gen.npl")
    out, err = io.StringIO(), io.StringIO()
    old = os.environ.get("NPL_JIT")
    os.environ["NPL_JIT"] = jit
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), memory_cap():
            try:
                program = load_compilation(comp, step_limit=limits or None,
                                           time_limit=5.0 if limits else None)
                if comp.module.main is not None:
                    program.call(comp.module.main)
                failure = None
            except NplRuntimeError as exc:
                failure = exc
    finally:
        if old is None:
            os.environ.pop("NPL_JIT", None)
        else:
            os.environ["NPL_JIT"] = old
    return out.getvalue(), failure, err.getvalue()


def run_python(source: str):
    """CPython's output for the same program (the oracle), in a module of
    its own (dataclasses looks the module up in sys.modules)."""
    module = types.ModuleType("npl_fuzz_oracle")
    sys.modules[module.__name__] = module
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), memory_cap():
            try:
                exec(builtins.compile(source, "gen.py", "exec"), module.__dict__)
                failure = None
            except Exception as exc:        # the oracle's errors, to compare with NPL's
                failure = exc
    finally:
        del sys.modules[module.__name__]
    return out.getvalue(), failure


@budget(60)
@given(programs())
def test_interpreter_agrees_with_python(gen):
    out, failure, _ = run_npl(gen.npl, limits=1_000_000)
    expected, py_failure = run_python(gen.python)
    assert (failure is None) == (py_failure is None), (failure, py_failure)
    assert out == expected
    if failure is not None:
        assert failure.kind != "type", failure.render()          # an internal error


NUMBER = re.compile(r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)$")


def same_output(a: str, b: str) -> bool:
    ta, tb = a.split(), b.split()
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        if x == y:
            continue
        if not (NUMBER.match(x) and NUMBER.match(y)):
            return False
        fx, fy = float(x), float(y)
        if not (math.isclose(fx, fy, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(fx) and math.isnan(fy))):
            return False
    return True


@budget(3)
@given(kernel_programs())
def test_jit_agrees_with_the_interpreter(gen):
    from npl.runtime import jit
    native_before = jit.stats["compiled"] + jit.stats["loaded"]
    out, failure, _ = run_npl(gen.npl, jit="off")
    jit_out, jit_failure, warnings = run_npl(gen.npl, jit="eager")
    assert jit.stats["compiled"] + jit.stats["loaded"] > native_before     # it really compiled
    assert warnings == ""                                                  # no kernel fell back
    assert (failure is None) == (jit_failure is None), (failure, jit_failure)
    assert same_output(out, jit_out), (out, jit_out)


# ---------------------------------------------------------------- malformed input

def must_compile_or_diagnose(source: str):
    """Compilation or None (a CompileError with well-formed diagnostics)."""
    from npl.compiler.driver import compile
    from npl.lang.diagnostics import CompileError
    try:
        return compile(source, "gen.npl", strict_fills=False)
    except CompileError as err:
        assert err.diagnostics
        assert err.render()                                  # renders without failing
        return None


def run_checked(source: str) -> None:
    """What compiles runs, or stops with a non-internal NplRuntimeError."""
    if must_compile_or_diagnose(source) is None:
        return
    _, failure, _ = run_npl(source, limits=20_000)
    if failure is not None:
        assert failure.kind != "type", failure.render()


@budget(150)
@given(st.binary(max_size=300))
def test_random_bytes_are_diagnostics(data):
    must_compile_or_diagnose(data.decode("utf-8", errors="replace"))


TOKEN = re.compile(r"\s+|\w+|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|.")
VOCABULARY = ["x", "v1", "p2", "f1", "main", "Pt", "int", "float", "str", "bool", "list[int]",
              "None", "True", "0", "-1", "1.5", '"s"', "[]", "{}", "(", ")", "[", "]", ":", ",",
              "+", "*", "/", "//", "%", "==", "<", "and", "not", "in", "is", "if", "else", "while",
              "for", "return", "break", "lambda", "def", "struct", "print", "len", "range", ".x",
              "?{a hole}", "\n", "\n    ", "    ", "=", "+=", "->", "@kernel", "sqrt", "Pt(1, 2)"]


@st.composite
def mutated(draw):
    text = draw(programs(kernel=draw(st.booleans()))).npl
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        kind = draw(st.sampled_from(["delete-line", "duplicate-line", "swap-lines", "token",
                                     "insert-token", "indent", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "delete-line":
            del lines[i]
        elif kind == "duplicate-line":
            lines.insert(i, lines[i])
        elif kind == "swap-lines" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "    ", "        "])) + lines[i].lstrip()
        elif kind == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
            continue
        else:
            tokens = TOKEN.findall(text)
            j = draw(st.integers(0, max(0, len(tokens) - 1)))
            new = draw(st.sampled_from(VOCABULARY))
            if kind == "token" and tokens:
                tokens[j] = new
            else:
                tokens.insert(j, new)
            text = "".join(tokens)
            continue
        text = "\n".join(lines)
    return text


@budget(80)
@given(mutated())
def test_mutated_programs_are_diagnostics_or_run(source):
    run_checked(source)


def test_generated_programs_are_well_typed_and_varied():
    """The generator's own contract (else the tests above prove little):
    its programs compile, and they use every construct it claims."""
    seen: set[str] = set()
    features = {"struct": "Pt(", "while": "while ", "for": "for ", "if": "if ", "dict": "{\"",
                "list": "[", "fstring": 'f"', "call": "def f", "kernel": "@kernel", "break": "break"}

    @settings(max_examples=40, deadline=None)
    @given(st.one_of(programs(), kernel_programs()))
    def check(gen):
        assert must_compile_or_diagnose(gen.npl) is not None, gen.npl
        seen.update(name for name, marker in features.items() if marker in gen.npl)
    check()
    assert seen == set(features)

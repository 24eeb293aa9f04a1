"""Differential testing of compiled kernels against the interpreter.

1. Every program with kernels among the spec tests (tests/spec/**), the
   shared conformance suite and the kernel benchmarks (at small sizes) runs
   with kernels compiled and with the JIT off; the outputs must agree, up to
   the float rounding of reductions and int64 wrap-around inside kernels
   (docs/reference.md §8), which `outputs_agree` allows and nothing else.
2. Random well-typed kernels from tests/gen_kernels.py (Hypothesis,
   derandomized): every function, on random inputs, returns the same value
   (floats up to rounding), leaves its array arguments the same, or fails
   with the same NPL error.
"""
from __future__ import annotations

import io
import math
import re
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings

import npl.api as api
from npl.lang.diagnostics import CompileError
from npl.runtime.errors import NplRuntimeError

from conftest import CONFORMANCE
from gen_kernels import kernel_inputs, kernel_programs

ROOT = Path(__file__).resolve().parent.parent

BENCH_SIZES = {"nbody.npl": "2000", "spectral_norm.npl": "60", "mandelbrot.npl": "120", "matmul.npl": "40"}


def kernel_programs_on_disk() -> list[tuple[Path, list[str]]]:
    found = []
    for path in sorted((ROOT / "tests" / "spec").rglob("*.npl")) + sorted(CONFORMANCE.glob("*.npl")):
        if "@kernel" in path.read_text():
            found.append((path, []))
    for path in sorted((ROOT / "bench" / "kernels").glob("*.npl")):
        found.append((path, [BENCH_SIZES.get(path.name, "10")]))
    return found


def run_program(path: Path, args: list[str], mode: str, monkeypatch) -> tuple[str, str]:
    """(stdout, error) of main() with NPL_JIT=mode."""
    monkeypatch.setenv("NPL_JIT", mode)
    try:
        prog = api.load(str(path))
    finally:
        monkeypatch.delenv("NPL_JIT")
    out = io.StringIO()
    error = ""
    with redirect_stdout(out):
        try:
            prog._runtime.run_main(args)
        except NplRuntimeError as err:
            error = err.render()
    return out.getvalue(), error


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf")


def outputs_agree(compiled: str, interpreted: str) -> bool:
    """Equal text, except numbers that differ only by float rounding (relative
    1e-9) or by int64 wrap-around of an int the interpreter keeps unbounded."""
    if compiled == interpreted:
        return True
    split_c, split_i = NUMBER.split(compiled), NUMBER.split(interpreted)
    nums_c, nums_i = NUMBER.findall(compiled), NUMBER.findall(interpreted)
    if split_c != split_i or len(nums_c) != len(nums_i):
        return False
    for c, i in zip(nums_c, nums_i):
        if c == i:
            continue
        if re.fullmatch(r"-?\d+", c) and re.fullmatch(r"-?\d+", i):
            a, b = int(c), int(i)
            if not (-2 ** 63 <= b < 2 ** 63) and (a - b) % 2 ** 64 == 0:
                continue
            return False
        if not math.isclose(float(c), float(i), rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def test_outputs_agree_allows_only_rounding_and_wraparound():
    assert outputs_agree("x 0.30000000000000004\n", "x 0.3\n")
    assert outputs_agree("-9223372036854775808\n", "9223372036854775808\n")
    assert not outputs_agree("x 0.31\n", "x 0.3\n")
    assert not outputs_agree("5\n", "6\n")
    assert not outputs_agree("-5\n", "18446744073709551611\n".replace("1", "2", 1))
    assert not outputs_agree("a 1\n", "b 1\n")


@pytest.mark.parametrize("path,args", kernel_programs_on_disk(),
                         ids=[p.name for p, _ in kernel_programs_on_disk()])
def test_program_output_is_the_same_compiled(path, args, monkeypatch):
    try:
        interpreted = run_program(path, args, "off", monkeypatch)
    except CompileError:
        pytest.skip("does not compile (a compile-error spec test)")
    compiled = run_program(path, args, "eager", monkeypatch)
    assert compiled[1] == interpreted[1]
    assert outputs_agree(compiled[0], interpreted[0]), (compiled[0], interpreted[0])
    assert interpreted[0]                              # the program printed something


def test_spec_and_conformance_kernel_programs_are_covered():
    names = {p.name for p, _ in kernel_programs_on_disk()}
    assert {"kernels_run.npl", "nbody.npl", "matmul.npl"} <= names
    if CONFORMANCE.is_dir():
        assert "kernels.npl" in names


# ------------------------------------------------------------------ random kernels

def call(prog: api.Program, name: str, inputs: tuple):
    a, b, x, n = inputs
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.int64)
    try:
        result = prog.call(name, a, b, x, n)
    except NplRuntimeError as err:
        return ("error", err.kind, err.message), a, b
    return ("ok", result), a, b


def agree(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) or x == y
    return x == y


# Each example compiles a program (seconds): few examples, and no shrinking,
# which would recompile at every step (the failure message holds the source).
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(program=kernel_programs(functions=3), inputs=kernel_inputs())
def test_random_kernels_match_the_interpreter(program, inputs, tmp_path_factory):
    source, names = program
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NPL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "npl-cache"))
        mp.setenv("NPL_JIT", "off")
        interp = api.compile_source(source, "random.npl")
        mp.setenv("NPL_JIT", "eager")
        native = api.compile_source(source, "random.npl")
    jit = native._runtime.jit
    assert set(names) <= set(jit.native), (jit.failed, source)
    for name in names:
        (want, a1, b1), (got, a2, b2) = call(interp, name, inputs), call(native, name, inputs)
        assert want[0] == got[0], (name, want, got, source)
        if want[0] == "ok":
            assert agree(want[1], got[1]), (name, want, got, source)
        elif "prange" not in source:
            assert want == got, (name, source)
        else:                                    # a parallel loop may meet another failure first
            assert want[1] == got[1], (name, want, got, source)
        np.testing.assert_allclose(a2, a1, rtol=1e-9, atol=1e-9, err_msg=source)
        np.testing.assert_array_equal(b2, b1, err_msg=source)

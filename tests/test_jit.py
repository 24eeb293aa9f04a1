"""The Numba back end (runtime/jit.py, numba_codegen.py, numba_rt.py and
numba_intrinsics.py): every kernel construct compiles and gives the
interpreter's result, failures are the interpreter's NPL errors with NPL
frames, int64 semantics inside kernels and Python ints in hot unmarked
functions, parallel loops that stay exact, arguments compiled code cannot
take, empty() and compile failures.

Tiering, start-up and the disk cache are in test_jit_runtime.py; the
differential suites in test_jit_differential.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import npl.api as api
from npl.runtime import jit as jitmod
from npl.runtime.errors import NplRuntimeError

PROGRAMS = Path(__file__).parent / "jit_programs"


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    """Module-scoped fixtures run before conftest's per-test set-up: give
    them the same session cache folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NPL_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "npl-cache"))
        yield mp


def load(source: str, path: str, mode: str, mp) -> api.Program:
    mp.setenv("NPL_JIT", mode)
    try:
        return api.compile_source(source, path)
    finally:
        mp.delenv("NPL_JIT")


def pair(name: str, mp) -> tuple[api.Program, api.Program]:
    """(interpreted, compiled eagerly) programs of tests/jit_programs/NAME."""
    source = (PROGRAMS / name).read_text()
    return load(source, name, "off", mp), load(source, name, "eager", mp)


def same(a, b) -> bool:
    """Equal values of equal types (NaN equal to NaN)."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape \
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def native_names(prog: api.Program) -> set[str]:
    return set(prog._runtime.jit.native)


# ------------------------------------------------------------------ constructs

@pytest.fixture(scope="module")
def constructs(cache_env):
    return pair("constructs.npl", cache_env)


M34 = np.arange(12.0).reshape(3, 4)
CONSTRUCT_CALLS = [
    ("arith", (7, -2, 7.5, -2.0)), ("arith", (-7, 3, -7.5, 2.0)), ("arith", (0, 5, -0.0, 3.0)),
    ("mixed", (3, 1.5)), ("scalars", (2.675, 5)), ("scalars", (-3.5, -2)),
    ("rounding", (2.5,)), ("rounding", (-2.45,)), ("rounding", (3.5,)), ("rounding", (0.125,)),
    ("maths", (7.0,)), ("maths", (0.25,)), ("tuples", (5,)), ("tuples", (0,)), ("loops", (60,)),
    ("loops", (7,)), ("uses_fill", (5,)), ("rows", (M34,)), ("grid", (3, 4)),
    ("arrays", (np.array([1.0, 4.0, 9.0]), np.array([2.0, 0.5, -1.0]))),
    ("mats", (np.arange(4.0).reshape(2, 2), np.array([1.0, 2.0]))), ("makers", (4,)), ("makers", (0,)),
    ("ints", (np.array([3, -1, 7]),)), ("flags", (np.array([True, True, False, True]),)),
    ("view", (np.arange(6.0),)), ("fib", (15,)), ("is_even", (11,)), ("is_even", (10,)),
    ("chained", (3.0, 4)), ("chained", (3.0, 3)), ("chained", (1.0, 3)), ("cond", (0.5,)), ("cond", (4.0,)),
    ("truth", (0, 0.0)), ("truth", (2, 0.5)), ("truth", (-1, float("nan"))),
    ("par_rows", (M34,)), ("pick_row", (M34, 1)), ("pick_row", (M34, -1)),
    # versioned loops: the unchecked copy, and the checked one for negative indices
    ("pairs", (M34, 3)), ("pairs", (M34, 0)), ("shifted", (np.arange(5.0), 0)),
    ("shifted", (np.arange(5.0), -2)),
]


def test_loop_versioning_hoists_invariant_and_loop_bound_checks(constructs):
    """pairs' inner loop: pos[i, 0] and pos[j, 2] are checked once before
    it (i and 0 and 2 do not change, j's range is known), and its unchecked
    copy passes the indices on as unsigned (no wraparound)."""
    interp, native = constructs
    source = generated_source(native, "pairs")
    fast, checked = source.split("else:", 1)
    assert "0 <= v_i < v_pos.shape[0]" in fast and "2 < v_pos.shape[1]" in fast
    assert "0 <= v_i + 1 and v_n <= v_pos.shape[0]" in fast
    assert "rt.ix(" not in fast.split("def k_pairs", 1)[1] and "rt.nn(v_j)" in fast
    assert "rt.ix(v_j, v_pos.shape[0]" in checked
    # a[j - k] could only be checked in the loop: shifted's loop stays one copy
    shifted = generated_source(native, "shifted").split("def k_shifted", 1)[1]
    assert shifted.count("for v_j in range(") == 1 and "rt.ix(v_j - v_k" in shifted


def test_every_kernel_compiles(constructs):
    interp, native = constructs
    kernels = {f.name for f in native._runtime.jit.module.functions if f.kernel}
    assert kernels <= native_names(native), native._runtime.jit.failed


@pytest.mark.parametrize("name,args", CONSTRUCT_CALLS, ids=[f"{n}{i}" for i, (n, _) in enumerate(CONSTRUCT_CALLS)])
def test_construct_matches_interpreter(constructs, name, args):
    interp, native = constructs
    expected, got = interp.call(name, *args), native.call(name, *args)
    assert same(expected, got), (expected, got)


def test_parallel_reduction_matches_up_to_rounding(constructs):
    interp, native = constructs
    x = np.linspace(0.0, 1.0, 100_001)
    assert native.call("par_reduce", x) == pytest.approx(interp.call("par_reduce", x), rel=1e-12)
    x = np.arange(1000.0)                   # exact in any order
    assert native.call("par_reduce", x) == interp.call("par_reduce", x)


def test_int_is_int64_inside_kernels(constructs):
    interp, native = constructs
    assert interp.call("wraps", 2 ** 21) == (2 ** 63, -2 ** 63, 2 ** 63)
    # int64 wraps (docs/reference.md §2), INT64_MIN // -1 included (Numba alone gives 0)
    assert native.call("wraps", 2 ** 21) == (-2 ** 63, -2 ** 63, -2 ** 63)


# ------------------------------------------------------------------ errors

@pytest.fixture(scope="module")
def errors(cache_env):
    return pair("errors.npl", cache_env)


A3 = np.zeros(3)
ERROR_CALLS = [
    ("get", (A3, 5)), ("get", (A3, -4)), ("get2", (np.zeros((2, 3)), 1, 3)), ("get2", (np.zeros((2, 3)), -3, 0)),
    ("put", (A3, 3)), ("tuple_at", (4,)), ("idiv", (1, 0)), ("imod", (1, 0)), ("fdiv", (1.0, 0.0)),
    ("fdiv", (0.0, -0.0)), ("root", (-1.0,)), ("logarithm", (0.0,)), ("logarithm", (-2.0,)),
    ("arccos", (2.0,)), ("grow", (1000.0,)), ("power", (10.0, 400.0)), ("power", (0.0, -1.0)),
    ("power", (-8.0, 0.5)), ("ipower", (2, -1)), ("to_int", (float("nan"),)), ("to_int", (float("inf"),)),
    ("down", (float("-inf"),)), ("down", (float("nan"),)), ("smallest", (np.zeros(0),)),
    ("inner", (np.zeros(3), np.zeros(4))), ("checked", (12,)), ("alloc", (-1,)), ("steps", (5, 0)),
    ("par_get", (np.arange(10.0), 3)), ("par_get", (np.arange(10.0), -11)), ("par_div", (np.arange(10.0), 4)),
    ("top", (A3, 2)), ("par_call", (np.arange(5.0), 1)), ("shapes", (np.zeros(3), np.zeros(4))),
    ("mm", (np.ones((2, 3)), np.ones((2, 2)))),          # the versioned loop's checked copy
    ("pairs", (np.ones((3, 3)), 4)), ("pairs", (np.ones((3, 2)), 3)), ("shifted", (A3, -4)),
    ("shifted", (A3, 1)),
]


def outcome(prog: api.Program, name: str, args: tuple):
    try:
        return ("ok", prog.call(name, *args))
    except NplRuntimeError as err:
        return (err.kind, err.message, [(f.function, f.file, f.line) for f in err.frames])


def test_error_kernels_compile(errors):
    interp, native = errors
    kernels = {f.name for f in native._runtime.jit.module.functions if f.kernel}
    assert kernels <= native_names(native)


@pytest.mark.parametrize("name,args", ERROR_CALLS, ids=[f"{n}{i}" for i, (n, _) in enumerate(ERROR_CALLS)])
def test_failure_is_the_interpreters_error(errors, name, args):
    """Same kind, message and NPL frames (function, file, line) as the
    interpreter, inside parallel loops and kernel-to-kernel calls too."""
    interp, native = errors
    expected = outcome(interp, name, args)
    assert expected[0] != "ok"
    assert outcome(native, name, args) == expected


def test_runaway_recursion_is_a_stack_overflow_not_a_crash(errors):
    interp, native = errors
    want, got = outcome(interp, "forever", (0,)), outcome(native, "forever", (0,))
    assert got[:2] == want[:2] == ("stack_overflow", "stack overflow (recursion too deep)")
    assert got[2][-1] == want[2][-1]           # innermost frame: the recursive call


def test_rendered_trace_has_no_python_or_numba_internals(errors, tmp_path):
    interp, native = errors
    with pytest.raises(NplRuntimeError) as info:
        native.call("top", A3, 2)
    text = info.value.render()
    assert text.splitlines()[0] == "error: index out of range: index 3 is out of bounds for axis 0 with size 3"
    assert "in top (errors.npl:" in text and "in leaf (errors.npl:" in text
    for word in ("Traceback", "numba", "KernelFault", ".py"):
        assert word not in text


def test_cli_prints_npl_trace_and_exits_1(tmp_path):
    from conftest import npl_command
    import subprocess
    prog = tmp_path / "oob.npl"
    prog.write_text("@kernel\ndef at(a: array[float], i: int) -> float:\n    return a[i]\n\n"
                    "def main():\n    print(at(zeros(3), 7))\n")
    run = subprocess.run([*npl_command(), "run", str(prog)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert run.stderr.startswith("error: index out of range: index 7 is out of bounds for axis 0 with size 3")
    assert "in at (" in run.stderr and "return a[i]" in run.stderr and "Traceback" not in run.stderr


# ------------------------------------------------------------------ unmarked functions

UNMARKED = '''
def fact(n: int) -> int:
    r = 1
    for i in range(2, n + 1):
        r *= i
    return r

def half(n: int) -> float:
    if n == 0:
        return 0
    return n / 2

def scale(a: array[float], k: float):
    for i in range(len(a)):
        a[i] *= k

def main():
    print(fact(5), half(0))
'''


def test_hot_unmarked_function_keeps_python_ints(cache_env):
    prog = load(UNMARKED, "unmarked.npl", "eager", cache_env)
    assert "fact" in native_names(prog)
    before = jitmod.stats["deopts"]
    assert prog.call("fact", 20) == math.factorial(20)              # fits int64: machine code
    assert jitmod.stats["deopts"] == before
    assert prog.call("fact", 30) == math.factorial(30)              # overflows: re-run, exact
    assert jitmod.stats["deopts"] == before + 1


SUMS = """
def total(n: int, step: int) -> int:
    s = 0
    for i in range(n):
        s = s + step
    return s

def drop(n: int, step: int) -> int:
    s = 0
    for i in range(n):
        s = s - step
    return s

def main():
    print(total(2, 3), drop(2, 3))
"""


@pytest.mark.parametrize("name, sign", [("total", 1), ("drop", -1)])
def test_int_add_and_sub_overflow_rerun_exactly(cache_env, name, sign):
    prog = load(SUMS, "sums.npl", "eager", cache_env)
    assert name in native_names(prog)
    before = jitmod.stats["deopts"]
    assert prog.call(name, 3, 2 ** 61) == sign * 3 * 2 ** 61      # fits int64
    assert jitmod.stats["deopts"] == before
    assert prog.call(name, 5, 2 ** 61) == sign * 5 * 2 ** 61      # past int64: re-run, exact
    assert jitmod.stats["deopts"] == before + 1


def test_functions_that_would_change_meaning_are_not_tiered(cache_env):
    prog = load(UNMARKED, "unmarked.npl", "eager", cache_env)
    # `return 0` from a float function stays the int 0 in the interpreter
    assert "half" not in native_names(prog)
    assert repr(prog.call("half", 0)) == "0"
    # writes into its argument: an overflow re-run would see changed inputs
    assert "scale" not in native_names(prog)


NESTED = """
def total(n: int, k: int) -> int:
    def step(i: int) -> int:
        s = 0
        for j in range(i % 50):
            s += (i * j + k) % 7
        return s
    acc = 0
    for i in range(n):
        acc += step(i)
    return acc

def picked(xs: list[int], n: int) -> int:
    def at(i: int) -> int:
        return xs[i % len(xs)]
    return at(n)

def main():
    print(total(3, 1), picked([1], 0))
"""


def test_a_nested_function_is_compiled_with_its_captures_as_arguments(cache_env):
    native = load(NESTED, "nested.npl", "eager", cache_env)
    interpreted = load(NESTED, "nested.npl", "off", cache_env)
    assert "total.<locals>.step" in native_names(native)
    assert "picked.<locals>.at" not in native_names(native)       # it reads a list
    assert native.call("total", 2000, 3) == interpreted.call("total", 2000, 3) == 147000
    assert native.call("picked", [4, 5], 3) == 5


# ------------------------------------------------------------------ arguments

ARGS = '''
@kernel
def total(a: array[float]) -> float:
    s = 0.0
    for v in a:
        s += v
    return s

@kernel
def twice(n: int) -> int:
    return n * 2

def main():
    print(total(zeros(2)))
'''


def test_arguments_machine_code_cannot_take_run_interpreted(cache_env):
    prog = load(ARGS, "args.npl", "eager", cache_env)
    before = jitmod.stats["fallbacks"]
    strided = np.arange(10.0)[::2]                       # not C-contiguous
    assert prog.call("total", strided) == 20.0
    assert prog.call("twice", 2 ** 70) == 2 ** 71        # beyond int64
    assert jitmod.stats["fallbacks"] == before + 2
    assert prog.call("total", np.arange(5.0)) == 10.0
    assert jitmod.stats["fallbacks"] == before + 2


# ------------------------------------------------------------------ empty(), parallel loops

PARALLEL = '''
@kernel
def evens(n: int) -> array[float]:
    out = empty(n)
    for i in range(n):
        if i % 2 == 0:
            out[i] = 1.0
    return out

@kernel
def squares(x: array[float]) -> array[float]:
    out = empty(len(x))
    for i in prange(len(x)):
        out[i] = x[i] * x[i]
    return out

@kernel
def histogram(x: array[int], bins: int) -> array[int]:
    h = zeros(bins, dtype=int)
    for i in prange(len(x)):
        h[x[i] % bins] += 1
    return h

@kernel
def shifted(x: array[float]) -> array[float]:
    out = zeros(len(x))
    for i in prange(1, len(x)):
        out[i] = out[i - 1] + x[i]
    return out

@kernel
def last_index(x: array[float]) -> int:
    found = -1
    for i in prange(len(x)):
        if x[i] > 0.5:
            found = i
    return found

@kernel
def norm2(x: array[float]) -> float:
    s = 0.0
    for i in prange(len(x)):
        s += x[i] * x[i]
    return s

def main():
    print(evens(3))
'''


@pytest.fixture(scope="module")
def parallel(cache_env):
    source = PARALLEL
    return load(source, "parallel.npl", "off", cache_env), load(source, "parallel.npl", "eager", cache_env)


def generated_source(prog: api.Program, name: str) -> str:
    jit = prog._runtime.jit
    module = __import__(jit.modules[name])
    return Path(module.__file__).read_text()


def test_empty_is_zero_filled_unless_every_element_is_written(parallel):
    interp, native = parallel
    assert same(native.call("evens", 5), interp.call("evens", 5))
    assert list(native.call("evens", 5)) == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert "np.empty" not in generated_source(native, "evens")
    assert "np.empty" in generated_source(native, "squares")     # the loop writes it all first
    x = np.arange(6.0)
    assert same(native.call("squares", x), interp.call("squares", x))


@pytest.mark.parametrize("name", ["histogram", "shifted", "last_index"])
def test_loops_whose_iterations_interfere_run_serially_and_exactly(parallel, name):
    interp, native = parallel
    rng = np.random.default_rng(7)
    x = rng.integers(0, 1000, 20_000) if name == "histogram" else rng.random(20_000)
    args = (x, 17) if name == "histogram" else (x,)
    assert same(native.call(name, *args), interp.call(name, *args))
    source = generated_source(native, name)
    assert "numba.prange" not in source and "parallel=False" in source


@pytest.mark.parametrize("name", ["squares", "norm2"])
def test_independent_iterations_run_in_parallel(parallel, name):
    interp, native = parallel
    source = generated_source(native, name)
    assert "numba.prange" in source and "parallel=True" in source


# ------------------------------------------------------------------ compile failures

def test_kernel_numba_cannot_compile_runs_interpreted_with_a_warning(cache_env, capfd):
    source = ("@kernel\ndef corner(a: array[float, 4]) -> float:\n    return a[0, 0, 0, 0]\n\n"
              "def main():\n    print(1)\n")
    prog = load(source, "rank4.npl", "on", cache_env)
    assert prog.call("corner", np.ones((1, 1, 1, 1)) * 3.0) == 3.0
    err = capfd.readouterr().err
    assert "warning: kernel 'corner' could not be compiled" in err and "runs in the interpreter" in err


def test_without_index_checks_results_are_unchanged(cache_env):
    """NPL_JIT_BOUNDSCHECK=0 drops the index checks (and with them the
    interpreter's index errors), nothing else."""
    source = (PROGRAMS / "constructs.npl").read_text()
    cache_env.setenv("NPL_JIT_BOUNDSCHECK", "0")
    try:
        native = load(source, "constructs.npl", "eager", cache_env)
    finally:
        cache_env.delenv("NPL_JIT_BOUNDSCHECK")
    interp = load(source, "constructs.npl", "off", cache_env)
    jit = native._runtime.jit
    assert "rt.ix(" not in Path(__import__(jit.modules["grid"]).__file__).read_text()
    for name, args in CONSTRUCT_CALLS:
        assert same(interp.call(name, *args), native.call(name, *args)), name

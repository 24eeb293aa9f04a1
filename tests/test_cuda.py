"""Kernels on the GPU (runtime/cuda.py): which kernels fit the pattern, the
device code they become, `--device cuda` without a GPU, and, on a machine
with an NVIDIA GPU, results against the interpreter (tests marked `gpu`
are skipped elsewhere, with the reason)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest

import npl.api as api
from npl.compiler.driver import compile as compile_npl
from npl.runtime import cuda

from conftest import npl_command

GPU_KERNELS = '''
@kernel
def saxpy(a: float, x: array[float], y: array[float]) -> array[float]:
    out = empty(len(x))
    for i in prange(len(x)):
        out[i] = a * x[i] + y[i]
    return out

@kernel
def sum_squares(x: array[float]) -> float:
    total = 0.0
    for i in prange(len(x)):
        total += x[i] * x[i]
    return total

@kernel
def count_above(x: array[float], t: float) -> int:
    c = 0
    for i in prange(len(x)):
        if x[i] > t:
            c += 1
    return c

@kernel
def clip_in_place(x: array[float], lo: float, hi: float):
    for i in prange(len(x)):
        x[i] = min(max(x[i], lo), hi)

@kernel
def where_positive(x: array[float]) -> array[float]:
    out = empty(len(x))
    for i in prange(len(x)):
        if x[i] > 0.0:
            out[i] = sqrt(x[i])
    return out

@kernel
def ratio(x: array[float], y: array[float]) -> array[float]:
    n = len(x)
    out = zeros(n)
    for i in prange(n):
        d = y[i] - 1.0
        out[i] = x[i] / d
    return out

@kernel
def flags(x: array[int]) -> array[bool]:
    out = zeros(len(x), dtype=bool)
    for i in prange(len(x)):
        out[i] = x[i] % 3 == 0
    return out

@kernel
def int_sum(x: array[int], k: int) -> int:
    total = k
    for i in prange(len(x)):
        total += x[i] // 2
    return total

@kernel
def rows_sum(m: array[float, 2]) -> array[float]:
    out = zeros(m.shape[0])
    for i in prange(m.shape[0]):
        s = 0.0
        for j in range(m.shape[1]):
            s += m[i, j]
        out[i] = s
    return out

@kernel
def neighbours(x: array[float]) -> array[float]:
    out = zeros(len(x))
    for i in prange(len(x) - 1):
        out[i] = x[i + 1] - x[i]
    return out

@kernel
def helper(v: float) -> float:
    return v * 2.0

@kernel
def calls(x: array[float]) -> array[float]:
    out = zeros(len(x))
    for i in prange(len(x)):
        out[i] = helper(x[i])
    return out

@kernel
def serial(x: array[float]) -> float:
    s = 0.0
    for i in range(len(x)):
        s += x[i]
    return s

@kernel
def carried(x: array[float]) -> array[float]:
    out = zeros(len(x))
    for i in prange(len(x)):
        if x[i] > 0.0:
            t = x[i]
        out[i] = t
    return out

def main():
    print(sum_squares(arange(10) * 1.0))
'''

ON_GPU = ["saxpy", "sum_squares", "count_above", "clip_in_place", "where_positive", "ratio", "flags",
          "int_sum"]
ON_CPU = {"rows_sum": "", "neighbours": "arr[i]", "calls": "Call", "serial": "prange",
          "helper": ""}


@pytest.fixture(scope="module")
def module():
    return compile_npl(GPU_KERNELS, "gpu.npl").module


@pytest.mark.parametrize("name", ON_GPU)
def test_pattern_accepts_elementwise_loops_and_reductions(module, name):
    pat = cuda.match(module.function(name))
    assert pat.loop.parallel
    if name in ("sum_squares", "count_above", "int_sum"):
        assert pat.reduction is not None and pat.result == pat.reduction
    if name == "clip_in_place":
        assert pat.written == {"x"} and pat.result is None
    if name == "saxpy":
        assert pat.filled == {"out"}                     # every element written first: no fill
    if name == "where_positive":
        assert pat.filled == set()                       # written under an `if`: zero-filled


@pytest.mark.parametrize("name,reason", sorted(ON_CPU.items()))
def test_pattern_rejects_other_kernels_with_a_reason(module, name, reason):
    with pytest.raises(cuda.NotGpu) as info:
        cuda.match(module.function(name))
    assert reason in str(info.value)


def test_pattern_rejects_values_carried_between_iterations(module):
    with pytest.raises(cuda.NotGpu, match="carries a value"):
        cuda.match(module.function("carried"))


class _Consts:
    def __call__(self, name):
        raise KeyError(name)


@pytest.mark.parametrize("name", ON_GPU)
def test_device_code_is_a_grid_stride_loop(module, name):
    pat = cuda.match(module.function(name))
    source = cuda._DeviceLowerer(pat, _Consts()).source()
    tree = ast.parse(source)                             # valid Python for numba.cuda
    kernel = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "npl_kernel")
    text = ast.unparse(kernel)
    assert "for _i in range(_start, _n, _stride)" in text
    if pat.reduction:
        assert "cuda.shared.array" in text and "cuda.atomic.add(_acc, 0, _sm[0])" in text
        assert text.count("cuda.atomic.add") == 1       # one atomic per block
    if name == "ratio":
        assert "_nonzero(" in text                      # a failing division is detected


def test_device_cuda_without_a_gpu_exits_2(tmp_path):
    if cuda.availability()[0]:
        pytest.skip("this machine has a GPU")
    prog = tmp_path / "k.npl"
    prog.write_text(GPU_KERNELS)
    run = subprocess.run([*npl_command(), "run", "--device", "cuda", str(prog)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2
    assert run.stdout == ""
    assert "--device cuda needs an NVIDIA GPU" in run.stderr and "Traceback" not in run.stderr
    interpreted = subprocess.run([*npl_command(), "run", "--device", "cuda", "--no-jit", str(prog)],
                                 capture_output=True, text=True, timeout=300)
    assert interpreted.returncode == 0 and interpreted.stdout == "285.0\n"
    # NPL_DEVICE=cuda asks the same, also of a program the run cache holds
    subprocess.run([*npl_command(), "run", str(prog)], capture_output=True, timeout=300)
    env = {**os.environ, "NPL_DEVICE": "cuda"}
    by_env = subprocess.run([*npl_command(), "run", str(prog)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert by_env.returncode == 2 and "--device cuda needs an NVIDIA GPU" in by_env.stderr
    explicit = subprocess.run([*npl_command(), "run", "--device", "cpu", str(prog)],
                              capture_output=True, text=True, timeout=300, env=env)
    assert explicit.returncode == 0 and explicit.stdout == "285.0\n"


def test_embedding_api_device_cuda_without_a_gpu_raises():
    if cuda.availability()[0]:
        pytest.skip("this machine has a GPU")
    with pytest.raises(cuda.DeviceError, match="needs an NVIDIA GPU"):
        api.compile_source(GPU_KERNELS, "gpu.npl", device="cuda")


# ------------------------------------------------------------------ on a GPU

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"     # numba's CUDA simulator (Python threads)
SIZES = [0, 1, 257] if SIMULATOR else [0, 1, 1000, 1_000_003]


def test_gpu_path_runs_on_the_cuda_simulator():
    """Without a GPU the host launcher and the generated device code still
    run, under Numba's CUDA simulator: the `gpu` tests below, in a process
    with NUMBA_ENABLE_CUDASIM=1."""
    if SIMULATOR or cuda.availability()[0]:
        pytest.skip("the GPU tests run directly here")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                          __file__], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def _gpu_reason() -> str:
    ok, reason = cuda.availability()
    return "" if ok else f"no usable NVIDIA GPU: {reason}"


gpu = pytest.mark.skipif(bool(_gpu_reason()), reason=_gpu_reason() or "GPU present")


@pytest.fixture(scope="module")
def programs():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NPL_JIT", "off")
        interp = api.compile_source(GPU_KERNELS, "gpu.npl")
        mp.setenv("NPL_JIT", "on")
        device = api.compile_source(GPU_KERNELS, "gpu.npl", device="cuda")
    return interp, device


def _inputs(name: str, n: int, rng):
    x = rng.standard_normal(n)
    return {
        "saxpy": (2.5, x, rng.standard_normal(n)), "sum_squares": (x,), "count_above": (x, 0.25),
        "clip_in_place": (x, -0.5, 0.5), "where_positive": (x,), "ratio": (x, rng.standard_normal(n) + 3.0),
        "flags": (rng.integers(-100, 100, n),), "int_sum": (rng.integers(-1000, 1000, n), 7),
    }[name]


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", ON_GPU)
def test_gpu_results_match_the_interpreter(programs, name, n):
    from npl.runtime.jit import stats
    interp, device = programs
    rng = np.random.default_rng(n)
    args = _inputs(name, n, rng)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    launches = stats["gpu_launches"]
    want = interp.call(name, *args)
    got = device.call(name, *copies)
    if n > 0:
        assert stats["gpu_launches"] == launches + 1
    if name in ("sum_squares",):
        assert got == pytest.approx(want, rel=1e-9)      # a reduction: rounding only
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)         # elementwise: exact (no FMA contraction)
    else:
        assert got == want
    for a, b in zip(args, copies):                       # in-place writes come back
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)


@gpu
@pytest.mark.gpu
def test_gpu_failure_is_the_interpreters_error(programs):
    from npl.runtime.errors import NplRuntimeError
    interp, device = programs
    x, y = np.ones(1000), np.full(1000, 3.0)
    y[517] = 1.0                                         # y - 1 == 0: division by zero
    with pytest.raises(NplRuntimeError) as want:
        interp.call("ratio", x, y)
    with pytest.raises(NplRuntimeError) as got:
        device.call("ratio", x, y)
    assert (got.value.kind, got.value.message) == (want.value.kind, want.value.message)
    assert [f.line for f in got.value.frames] == [f.line for f in want.value.frames]


@gpu
@pytest.mark.gpu
def test_gpu_torch_tensors_are_used_in_place(programs):
    if SIMULATOR:
        pytest.skip("the CUDA simulator cannot take torch tensors")
    torch = pytest.importorskip("torch")
    interp, device = programs
    x = torch.linspace(-1.0, 1.0, 4097, dtype=torch.float64, device="cuda")
    y = torch.ones(4097, dtype=torch.float64, device="cuda")
    out = device.call("saxpy", 2.0, x, y)
    assert isinstance(out, torch.Tensor) and out.is_cuda
    want = interp.call("saxpy", 2.0, x.cpu().numpy(), y.cpu().numpy())
    np.testing.assert_array_equal(out.cpu().numpy(), want)
    device.call("clip_in_place", x, -0.5, 0.5)           # written in device memory
    assert float(x.max()) == 0.5 and float(x.min()) == -0.5

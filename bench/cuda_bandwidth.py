#!/usr/bin/env python3
"""Memory bandwidth of NPL's GPU kernels (runtime/cuda.py) against the
card's own device-to-device copy.

Two NPL kernels, as `--device cuda` runs them:

    saxpy   out[i] = a * x[i] + y[i]     moves 3 x 8 bytes per element
    sum     total += x[i]                moves 8 bytes per element (grid-stride
                                         partial sums, shared-memory block
                                         reduction, one atomic add per block)

over N = 2^26 float64 elements (512 MiB per array), and `cudaMemcpy`
device to device of the same array (2 x 8 bytes per element). Each is timed
with CUDA events around the launch alone (arrays already on the device),
best of --repeat; the effective bandwidth is bytes moved / time, and the
target is >= 80 % of the copy's. The end-to-end call from NumPy arrays
(copies to and from the device included) is shown for information.

Usage: python bench/cuda_bandwidth.py [--log2n 26] [--repeat 20] [--no-record]
Needs an NVIDIA GPU; results go to bench/results/cuda-YYYYmmdd-HHMMSS.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.80

PROGRAM = '''
@kernel
def saxpy(a: float, x: array[float], y: array[float]) -> array[float]:
    out = empty(len(x))
    for i in prange(len(x)):
        out[i] = a * x[i] + y[i]
    return out

@kernel
def total(x: array[float]) -> float:
    s = 0.0
    for i in prange(len(x)):
        s += x[i]
    return s

def main():
    print(total(arange(4) * 1.0))
'''


def timed(cuda, launch, repeat: int, before=None) -> float:
    """Best time of `launch()` in seconds, by CUDA events."""
    best = float("inf")
    for _ in range(repeat):
        if before is not None:
            before()
        cuda.synchronize()
        start, end = cuda.event(), cuda.event()
        wall = time.perf_counter()
        start.record()
        launch()
        end.record()
        end.synchronize()
        wall = time.perf_counter() - wall
        event = start.elapsed_time(end) / 1e3
        best = min(best, event if event > 0 else wall)      # (the CUDA simulator's events read 0)
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2n", type=int, default=26)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-record", action="store_true")
    opts = parser.parse_args(argv)
    import npl.api as api
    from npl.runtime import cuda as npl_cuda
    ok, card = npl_cuda.availability()
    if not ok:
        print(f"no usable GPU: {card}", file=sys.stderr)
        return 2
    cuda = npl_cuda.cuda_module()
    n = 2 ** opts.log2n
    prog = api.compile_source(PROGRAM, "bandwidth.npl", device="cuda")
    gpu = prog._runtime.jit.gpu
    rng = np.random.default_rng(0)
    x, y = rng.random(n), rng.random(n)
    a = 2.5

    # end to end (NumPy in, NumPy out), which also compiles everything
    t0 = time.perf_counter()
    out = prog.call("saxpy", a, x, y)
    e2e_saxpy_first = time.perf_counter() - t0
    assert np.array_equal(out, a * x + y), "saxpy differs from NumPy"
    t0 = time.perf_counter()
    prog.call("saxpy", a, x, y)
    e2e_saxpy = time.perf_counter() - t0
    t0 = time.perf_counter()
    s = prog.call("total", x)
    e2e_sum = time.perf_counter() - t0
    assert abs(s - x.sum()) <= 1e-9 * n, "sum differs from NumPy"

    d_x, d_y = cuda.to_device(x), cuda.to_device(y)
    d_out, d_copy = cuda.device_array(n), cuda.device_array(n)
    err = cuda.to_device(np.zeros(1, np.int64))
    acc = cuda.to_device(np.zeros(1, np.float64))
    zero = np.zeros(1, np.float64)

    copy_s = timed(cuda, lambda: d_copy.copy_to_device(d_x), opts.repeat)

    def launcher(name: str, values: dict):
        plan = gpu[name]
        kernel, pat = plan.kernel(), plan.pat
        args = [values[v] for v in pat.arrays] + [values[v] for v in pat.scalars] + [n, err, acc]
        blocks = plan.blocks(n)
        return lambda: kernel[blocks, npl_cuda.THREADS](*args)

    saxpy_s = timed(cuda, launcher("saxpy", {"x": d_x, "y": d_y, "out": d_out, "a": a}), opts.repeat)
    assert np.array_equal(d_out.copy_to_host(), a * x + y)
    sum_s = timed(cuda, launcher("total", {"x": d_x}), opts.repeat,
                  before=lambda: acc.copy_to_device(zero))
    assert abs(acc.copy_to_host()[0] - x.sum()) <= 1e-9 * n
    assert int(err.copy_to_host()[0]) == 0

    gb = 1e9
    copy_bw = 2 * 8 * n / copy_s / gb
    rows = [("device-to-device copy", 2 * 8 * n, copy_s), ("saxpy (NPL)", 3 * 8 * n, saxpy_s),
            ("sum reduction (NPL)", 8 * n, sum_s)]
    print(f"card: {card}   N = 2^{opts.log2n} float64 ({8 * n / 2 ** 20:.0f} MiB per array)")
    print(f"{'kernel':24} {'bytes':>12} {'time ms':>9} {'GB/s':>8} {'of copy':>8}")
    results = []
    for label, nbytes, secs in rows:
        bw = nbytes / secs / gb
        share = bw / copy_bw
        mark = "" if label.startswith("device") else ("ok" if share >= TARGET else "MISS")
        print(f"{label:24} {nbytes:>12} {secs * 1e3:>9.3f} {bw:>8.1f} {share:>7.0%} {mark}")
        results.append({"kernel": label, "bytes": nbytes, "seconds": secs, "gb_per_s": bw,
                        "fraction_of_copy": share})
    print(f"end to end from NumPy (host copies included): saxpy {e2e_saxpy:.3f} s "
          f"(first call, compiling: {e2e_saxpy_first:.3f} s), sum {e2e_sum:.3f} s")
    if not opts.no_record:
        import numba
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        out_path = ROOT / "bench" / "results" / f"cuda-{stamp}.json"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps({
            "machine": {"card": card, "python": platform.python_version(), "numba": numba.__version__,
                        "platform": platform.platform(), "cpu_count": os.cpu_count()},
            "n": n, "repeat": opts.repeat, "target_fraction": TARGET, "results": results,
            "end_to_end_seconds": {"saxpy": e2e_saxpy, "saxpy_first": e2e_saxpy_first, "sum": e2e_sum},
        }, indent=2) + "\n")
        print(f"recorded {out_path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

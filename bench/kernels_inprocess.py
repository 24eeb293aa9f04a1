#!/usr/bin/env python3
"""The kernel benchmarks' compiled code alone: NPL's @kernel functions (through
the entry the interpreter calls, runtime/jit.py) against the hand-written
Numba functions, in one process, after both are compiled, best of --repeat.

run_kernels.py times whole processes, so at small sizes it measures
start-up; this measures what the code generator is responsible for. Same
inputs, and the outputs are checked to agree.

Usage: python bench/kernels_inprocess.py [--repeat N] [--scale F] [--no-boundscheck]
(--scale multiplies the problem sizes; --no-boundscheck sets
NPL_JIT_BOUNDSCHECK=0 to show what the index checks cost.)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
KERNELS = BENCH / "kernels"


def best(fn, repeat: int) -> tuple[float, object]:
    result, t = None, float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        t = min(t, time.perf_counter() - start)
    return t, result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--no-boundscheck", action="store_true")
    opts = parser.parse_args(argv)
    if opts.no_boundscheck:
        os.environ["NPL_JIT_BOUNDSCHECK"] = "0"
    os.environ.setdefault("NPL_CACHE_DIR", tempfile.mkdtemp(prefix="npl-bench-"))
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="numba-bench-"))
    sys.path.insert(0, str(KERNELS))
    import npl.api as api

    def npl(name: str):
        return api.compile_source((KERNELS / f"{name}.npl").read_text(), str(KERNELS / f"{name}.npl"))._runtime

    rows = []
    import nbody_numba
    rt = npl("nbody")
    steps = int(2_000_000 * opts.scale)
    pos0, vel0, mass = nbody_numba.make_state(nbody_numba.SOLAR_SYSTEM)
    pos0, vel0 = np.ascontiguousarray(pos0), np.ascontiguousarray(vel0)

    def nbody_npl():
        p, v = pos0.copy(), vel0.copy()
        rt.call("advance", p, v, mass, 0.01, steps)
        return p

    def nbody_nb():
        p, v = pos0.copy(), vel0.copy()
        nbody_numba.advance(p, v, mass, 0.01, steps)
        return p
    rt.call("advance", pos0.copy(), vel0.copy(), mass, 0.01, 1)
    nbody_numba.advance(pos0.copy(), vel0.copy(), mass, 0.01, 1)
    rows.append(("n-body advance", f"{steps} steps", nbody_npl, nbody_nb, "exact"))

    import spectral_norm_numba
    rt2 = npl("spectral_norm")
    n = int(2000 * opts.scale)
    rt2.call("spectral_norm", 10)
    spectral_norm_numba.spectral_norm(10)
    rows.append(("spectral-norm", f"n={n}", lambda: rt2.call("spectral_norm", n),
                 lambda: spectral_norm_numba.spectral_norm(n), "close"))

    import mandelbrot_numba
    rt3 = npl("mandelbrot")
    size = int(2000 * opts.scale)
    rt3.call("mandelbrot", 10, 50)
    mandelbrot_numba.mandelbrot(10, 50)
    rows.append(("mandelbrot", f"{size}x{size}", lambda: rt3.call("mandelbrot", size, 50),
                 lambda: mandelbrot_numba.mandelbrot(size, 50), "exact"))

    import matmul_numba
    rt4 = npl("matmul")
    m = int(800 * opts.scale)
    a, b = rt4.call("make_matrix", m, 1), rt4.call("make_matrix", m, 4)
    rt4.call("matmul", a[:2, :2].copy(), b[:2, :2].copy())
    matmul_numba.matmul(a[:2, :2].copy(), b[:2, :2].copy())
    rows.append(("matmul", f"{m}x{m}", lambda: rt4.call("matmul", a, b), lambda: matmul_numba.matmul(a, b),
                 "exact"))

    print(f"{'kernel':16} {'size':14} {'npl s':>8} {'numba s':>8} {'npl/numba':>10}  same")
    for label, size_text, f_npl, f_nb, how in rows:
        t_npl, r_npl = best(f_npl, opts.repeat)
        t_nb, r_nb = best(f_nb, opts.repeat)
        same = np.array_equal(r_npl, r_nb) if how == "exact" else np.allclose(r_npl, r_nb, rtol=1e-12)
        print(f"{label:16} {size_text:14} {t_npl:>8.3f} {t_nb:>8.3f} {t_npl / t_nb:>10.2f}  {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

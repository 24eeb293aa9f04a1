"""spectral-norm with hand-written Numba kernels: the same algorithm as
spectral_norm.npl; its prange loops run in parallel here too
(parallel=True), and cache=True keeps the machine code in NUMBA_CACHE_DIR.

Usage: python3 spectral_norm_numba.py [N]   (default 1000)
"""
import sys
from math import sqrt

import numpy as np
from numba import njit, prange


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


@njit(cache=True)
def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


@njit(cache=True, parallel=True)
def mult_av(v, out):
    n = len(v)
    for i in prange(n):
        total = 0.0
        for j in range(n):
            total += eval_a(i, j) * v[j]
        out[i] = total


@njit(cache=True, parallel=True)
def mult_atv(v, out):
    n = len(v)
    for i in prange(n):
        total = 0.0
        for j in range(n):
            total += eval_a(j, i) * v[j]
        out[i] = total


@njit(cache=True)
def mult_atav(v, out, tmp):
    mult_av(v, tmp)
    mult_atv(tmp, out)


@njit(cache=True)
def spectral_norm(n):
    u = np.ones(n)
    v = np.zeros(n)
    tmp = np.zeros(n)
    for _ in range(10):
        mult_atav(u, v, tmp)
        mult_atav(v, u, tmp)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv += u[i] * v[i]
        vv += v[i] * v[i]
    return sqrt(vbv / vv)


def main(args):
    print(f"{spectral_norm(size_from(args, 1000)):.9f}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Dense matrix multiply with hand-written Numba kernels: the same
algorithm as matmul.npl (i-k-j loops, rows in parallel with prange),
cache=True. Not np.dot on purpose: the benchmark compares compiled loops.

Usage: python3 matmul_numba.py [N]   (default 400)
"""
import sys

import numpy as np
from numba import njit, prange


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


@njit(cache=True)
def make_matrix(n, seed):
    a = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            a[i, j] = float((i * 7 + j * 13 + seed) % 11 - 5)
    return a


@njit(cache=True, parallel=True)
def matmul(a, b):
    n = a.shape[0]
    inner = a.shape[1]
    m = b.shape[1]
    c = np.zeros((n, m))
    for i in prange(n):
        for k in range(inner):
            aik = a[i, k]
            for j in range(m):
                c[i, j] += aik * b[k, j]
    return c


@njit(cache=True)
def checksum(c):
    total = 0.0
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            total += c[i, j] * ((i * 31 + j * 17) % 101 + 1)
    return total


def main(args):
    n = size_from(args, 400)
    c = matmul(make_matrix(n, 1), make_matrix(n, 4))
    print(f"{n}x{n}: checksum {int(checksum(c))}, c[0, 0] = {int(c[0, 0])}, c[{n - 1}, {n - 1}] = {int(c[n - 1, n - 1])}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""spectral-norm in plain CPython: the same algorithm as spectral_norm.npl,
with lists of floats where the NPL program uses arrays.

Usage: python3 spectral_norm.py [N]   (default 1000)
"""
import sys
from math import sqrt


def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def mult_av(v, out):
    n = len(v)
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += eval_a(i, j) * v[j]
        out[i] = total


def mult_atv(v, out):
    n = len(v)
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += eval_a(j, i) * v[j]
        out[i] = total


def mult_atav(v, out, tmp):
    mult_av(v, tmp)
    mult_atv(tmp, out)


def spectral_norm(n):
    u = [1.0] * n
    v = [0.0] * n
    tmp = [0.0] * n
    for _ in range(10):
        mult_atav(u, v, tmp)
        mult_atav(v, u, tmp)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv += u[i] * v[i]
        vv += v[i] * v[i]
    return sqrt(vbv / vv)


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


def main(args):
    print(f"{spectral_norm(size_from(args, 1000)):.9f}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Mandelbrot checksum with hand-written Numba kernels: the same algorithm
as mandelbrot.npl, rows in parallel (parallel=True, prange, scalar `+=`
reductions), cache=True.

Usage: python3 mandelbrot_numba.py [SIZE]   (default 1000)
"""
import sys

from numba import njit, prange


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


@njit(cache=True)
def escape_count(cr, ci, max_iter):
    zr = 0.0
    zi = 0.0
    i = 0
    while i < max_iter and zr * zr + zi * zi <= 4.0:
        t = zr * zr - zi * zi + cr
        zi = 2.0 * zr * zi + ci
        zr = t
        i += 1
    return i


@njit(cache=True, parallel=True)
def mandelbrot(size, max_iter):
    inside = 0
    iterations = 0
    for y in prange(size):
        ci = 2.0 * y / size - 1.0
        row_inside = 0
        row_iterations = 0
        for x in range(size):
            count = escape_count(2.0 * x / size - 1.5, ci, max_iter)
            row_iterations += count
            if count == max_iter:
                row_inside += 1
        inside += row_inside
        iterations += row_iterations
    return inside, iterations


def main(args):
    size = size_from(args, 1000)
    inside, iterations = mandelbrot(size, 50)
    print(f"{size}x{size}: {inside} points inside, {iterations} iterations")


if __name__ == "__main__":
    main(sys.argv[1:])

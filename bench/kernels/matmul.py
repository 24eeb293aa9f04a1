"""Dense matrix multiply in plain CPython: the same algorithm as
matmul.npl (i-k-j loop order), with lists of lists of floats.

Usage: python3 matmul.py [N]   (default 400)
"""
import sys


def make_matrix(n, seed):
    return [[float((i * 7 + j * 13 + seed) % 11 - 5) for j in range(n)] for i in range(n)]


def matmul(a, b):
    n, inner, m = len(a), len(b), len(b[0])
    c = [[0.0] * m for _ in range(n)]
    for i in range(n):
        ci = c[i]
        for k in range(inner):
            aik = a[i][k]
            bk = b[k]
            for j in range(m):
                ci[j] += aik * bk[j]
    return c


def checksum(c):
    total = 0.0
    for i in range(len(c)):
        for j in range(len(c[i])):
            total += c[i][j] * ((i * 31 + j * 17) % 101 + 1)
    return total


def size_from(args, default):
    if len(args) > 0 and args[-1].isdigit():
        return int(args[-1])
    return default


def main(args):
    n = size_from(args, 400)
    c = matmul(make_matrix(n, 1), make_matrix(n, 4))
    print(f"{n}x{n}: checksum {int(checksum(c))}, c[0, 0] = {int(c[0][0])}, c[{n - 1}, {n - 1}] = {int(c[n - 1][n - 1])}")


if __name__ == "__main__":
    main(sys.argv[1:])

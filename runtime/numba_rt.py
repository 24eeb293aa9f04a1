"""Run-time support for the kernel modules that runtime/numba_codegen.py
generates: the checks that make compiled kernels fail where the interpreter
fails, with the same error, instead of reading past an array or returning
`inf` where Python raises.

Imported only by generated modules (so only after Numba itself). Every
check takes a `site`: a number that runtime/jit.py maps back to the NPL
operation (function, file, line, what failed). A failing check reports
`(site + sub, x, y)`, `sub` < 4 saying which check of the helper failed
(an array axis, say) and `x`, `y` the values the message needs (floats as
their IEEE bits, see `f2bits`). It reports in one of two ways:

    raising checks  (`ix`, `nz`, `fpow`, ...) raise KernelFault(site, x, y);
    flagging checks (`ix_e`, `nz_e`, `fpow_e`, ...) record it in `err`, an
                    int64 array [site, x, y, 0] (first failure wins, by an
                    atomic compare-and-swap), then leave the function with
                    an error status.

Flagging exists because Numba drops exceptions raised inside the body of a
parallel (`prange`) loop: the error status still stops that thread's share
of the loop (so nothing runs past a failed check), the record survives, and
the generated code raises it after the loop (`check_err`).

The checks on hot paths (`ix` for array indices, the guards `nz`, `ge0`,
`gt0`, `finite`, `unit` that return their argument or fail) are intrinsics:
a compare and an unlikely branch in the caller's own LLVM code, the cost of
Numba's boundscheck (they live in runtime/numba_intrinsics.py, re-exported
here). Their failure branch calls one shared compiled
function that raises (a `raise` at each check would make Numba emit a
conversion function per check and compile several times slower). The rarer
helpers are small `inline="always"` functions written once as a template
and instantiated in both flavours.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, objmode

from .numba_intrinsics import (  # noqa: F401  (generated modules use them as rt.NAME)
    INT64_MIN, INT64_MAX, TWO63, RECURSION_LIMIT, KernelFault, f2bits,
    record, add_c, sub_c, mul_c, smul_ovf, ix, ix_e, nn, fail, fail_e, nz,
    nz_e, ge0, ge0_e, gt0, gt0_e, finite, finite_e, unit, unit_e, new_err, check_err)


# ------------------------------------------------------------------ checked helpers
#
# Written once, instantiated twice (on first use, see __getattr__): S is ""
# (raising) or "_e" (flagging), E the extra `err` parameter/argument. Both
# leave the function at a failed check; the value after it is never used.

_TEMPLATE = '''
@njit(inline="always")
def get1{S}(a, i, site{E}):
    n = a.shape[0]
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        fail{S}(site, i, n{E})
        return a.dtype.type(0)
    return a[j]


@njit(inline="always")
def get2{S}(a, i, j, site{E}):
    n0 = a.shape[0]
    n1 = a.shape[1]
    p = i + n0 if i < 0 else i
    q = j + n1 if j < 0 else j
    if p < 0 or p >= n0:
        fail{S}(site, i, n0{E})
        return a.dtype.type(0)
    if q < 0 or q >= n1:
        fail{S}(site + 1, j, n1{E})
        return a.dtype.type(0)
    return a[p, q]


@njit(inline="always")
def get3{S}(a, i, j, k, site{E}):
    return a[ix{S}(i, a.shape[0], site{E}), ix{S}(j, a.shape[1], site + 1{E}),
             ix{S}(k, a.shape[2], site + 2{E})]


@njit(inline="always")
def set1{S}(a, i, v, site{E}):
    n = a.shape[0]
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        fail{S}(site, i, n{E})
    else:
        a[j] = v


@njit(inline="always")
def set2{S}(a, i, j, v, site{E}):
    n0 = a.shape[0]
    n1 = a.shape[1]
    p = i + n0 if i < 0 else i
    q = j + n1 if j < 0 else j
    if p < 0 or p >= n0:
        fail{S}(site, i, n0{E})
    elif q < 0 or q >= n1:
        fail{S}(site + 1, j, n1{E})
    else:
        a[p, q] = v


@njit(inline="always")
def set3{S}(a, i, j, k, v, site{E}):
    n0 = a.shape[0]
    n1 = a.shape[1]
    n2 = a.shape[2]
    p = i + n0 if i < 0 else i
    q = j + n1 if j < 0 else j
    r = k + n2 if k < 0 else k
    if p < 0 or p >= n0:
        fail{S}(site, i, n0{E})
    elif q < 0 or q >= n1:
        fail{S}(site + 1, j, n1{E})
    elif r < 0 or r >= n2:
        fail{S}(site + 2, k, n2{E})
    else:
        a[p, q, r] = v


@njit(inline="always")
def row{S}(a, i, site{E}):
    n = a.shape[0]
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        fail{S}(site, i, n{E})
        return np.zeros(a.shape[1:], a.dtype)
    return a[j]


@njit(inline="always")
def row2{S}(a, i, j, site{E}):
    n0 = a.shape[0]
    n1 = a.shape[1]
    p = i + n0 if i < 0 else i
    q = j + n1 if j < 0 else j
    if p < 0 or p >= n0:
        fail{S}(site, i, n0{E})
        return np.zeros(a.shape[2:], a.dtype)
    if q < 0 or q >= n1:
        fail{S}(site + 1, j, n1{E})
        return np.zeros(a.shape[2:], a.dtype)
    return a[p, q]


@njit(inline="always")
def tget{S}(t, i, site{E}):
    n = len(t)
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        fail{S}(site, i, n{E})
        return t[0]
    return t[j]


@njit(inline="always")
def div{S}(a, b, site{E}):
    if b == 0:
        fail{S}(site, 0, 0{E})
        return 0.0
    return a / b


@njit(inline="always")
def ifloordiv{S}(a, b, site{E}):
    if b == 0:
        fail{S}(site, 0, 0{E})
        return 0
    if b == -1:
        return -a                      # INT64_MIN // -1 wraps to INT64_MIN
    return a // b


@njit(inline="always")
def imod{S}(a, b, site{E}):
    if b == 0:
        fail{S}(site, 0, 0{E})
        return 0
    if b == -1:
        return 0
    return a % b


@njit(inline="always")
def ffloordiv{S}(a, b, site{E}):
    if b == 0:
        fail{S}(site, 0, 0{E})
        return 0.0
    return a // b


@njit(inline="always")
def fmod{S}(a, b, site{E}):
    if b == 0:
        fail{S}(site, 0, 0{E})
        return 0.0
    return a % b


@njit(inline="always")
def ipow{S}(a, b, site{E}):
    if b < 0:
        fail{S}(site, a, b{E})
        return 0
    return a ** b


@njit(inline="always")
def fpow{S}(a, b, site{E}):
    """Python's float ** float: 0.0 ** negative fails like a division by
    zero (sub 0), a negative base with a fractional exponent would be complex
    (sub 1), a finite base and exponent with an infinite result overflow
    (sub 2)."""
    x = float(a)
    y = float(b)
    r = x ** y
    if math.isfinite(r):
        return r
    if math.isfinite(x) and math.isfinite(y):
        if x == 0.0 and y < 0.0:
            fail{S}(site, 0, 0{E})
        elif x < 0.0 and y != math.floor(y):
            fail{S}(site + 1, f2bits(x), f2bits(y){E})
        elif math.isinf(r):
            fail{S}(site + 2, f2bits(x), f2bits(y){E})
    return r


@njit(inline="always")
def logb{S}(x, b, site{E}):
    if x <= 0.0 or b <= 0.0:
        fail{S}(site, 0, 0{E})
        return math.nan
    d = math.log(b)
    if d == 0.0:
        fail{S}(site + 1, 0, 0{E})
        return math.nan
    return math.log(x) / d


@njit(inline="always")
def exp{S}(x, site{E}):
    r = math.exp(x)
    if math.isinf(r) and math.isfinite(x):
        fail{S}(site, f2bits(float(x)), 0{E})
    return r


@njit(inline="always")
def f2i{S}(x, site{E}):
    """int(x) of a float (truncation). Fails for NaN (sub 0) and for values
    outside int64, infinities included (sub 1)."""
    if x != x:
        fail{S}(site, 0, 0{E})
        return 0
    if x >= TWO63 or x < -TWO63:
        fail{S}(site + 1, f2bits(x), 0{E})
        return 0
    return int(x)


@njit(inline="always")
def floor{S}(x, site{E}):
    return f2i{S}(np.floor(x), site{E})      # math.floor gives an int in Numba


@njit(inline="always")
def ceil{S}(x, site{E}):
    return f2i{S}(np.ceil(x), site{E})


@njit(inline="always")
def round0{S}(x, site{E}):
    return f2i{S}(np.rint(x), site{E})


@njit(inline="always")
def dim{S}(n, site{E}):
    if n < 0:
        fail{S}(site, n, 0{E})
        return 0
    return n


@njit(inline="always")
def dims2{S}(t, site{E}):
    return (dim{S}(t[0], site{E}), dim{S}(t[1], site{E}))


@njit(inline="always")
def dims3{S}(t, site{E}):
    return (dim{S}(t[0], site{E}), dim{S}(t[1], site{E}), dim{S}(t[2], site{E}))


@njit(inline="always")
def rstep{S}(s, site{E}):
    if s == 0:
        fail{S}(site, 0, 0{E})
        return 1
    return s


@njit(inline="always")
def depth{S}(d, site{E}):
    if d > RECURSION_LIMIT:
        fail{S}(site, 0, 0{E})
        return False
    return True


@njit
def amin{S}(a, site{E}):
    if a.size == 0:
        fail{S}(site, 0, 0{E})
        return a.dtype.type(0)
    return np.min(a)


@njit
def amax{S}(a, site{E}):
    if a.size == 0:
        fail{S}(site, 0, 0{E})
        return a.dtype.type(0)
    return np.max(a)


@njit
def arange{S}(start, stop, step, site{E}):
    if step == 0:
        fail{S}(site, 0, 0{E})
        return np.arange(start, start, step + 1)
    return np.arange(start, stop, step)


@njit
def same_shape{S}(a, b, site{E}):
    """NumPy's broadcasting rule for two arrays of one rank."""
    for k in range(a.ndim):
        if a.shape[k] != b.shape[k] and a.shape[k] != 1 and b.shape[k] != 1:
            fail{S}(site, pack_shape(a.shape), pack_shape(b.shape){E})
            return False
    return True


@njit
def ew_add{S}(a, b, site{E}):
    if not same_shape{S}(a, b, site{E}):
        return a + b.dtype.type(0)
    return a + b


@njit
def ew_sub{S}(a, b, site{E}):
    if not same_shape{S}(a, b, site{E}):
        return a - b.dtype.type(0)
    return a - b


@njit
def ew_mul{S}(a, b, site{E}):
    if not same_shape{S}(a, b, site{E}):
        return a * b.dtype.type(0)
    return a * b


@njit
def ew_truediv{S}(a, b, site{E}):
    if not same_shape{S}(a, b, site{E}):
        return a / b.dtype.type(1)
    return a / b


@njit
def dot11{S}(a, b, dt, site{E}):
    if a.shape[0] != b.shape[0]:
        fail{S}(site, pack_shape(a.shape), pack_shape(b.shape){E})
        return dt(0)
    total = dt(0)
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@njit
def dot21{S}(a, b, dt, site{E}):
    out = np.zeros(a.shape[0], dt)
    if a.shape[1] != b.shape[0]:
        fail{S}(site + 1, pack_shape(a.shape), pack_shape(b.shape){E})
        return out
    for i in range(a.shape[0]):
        s = out[i]
        for k in range(a.shape[1]):
            s += a[i, k] * b[k]
        out[i] = s
    return out


@njit
def dot12{S}(a, b, dt, site{E}):
    out = np.zeros(b.shape[1], dt)
    if a.shape[0] != b.shape[0]:
        fail{S}(site + 2, pack_shape(a.shape), pack_shape(b.shape){E})
        return out
    for k in range(a.shape[0]):
        ak = a[k]
        for j in range(b.shape[1]):
            out[j] += ak * b[k, j]
    return out


@njit
def dot22{S}(a, b, dt, site{E}):
    out = np.zeros((a.shape[0], b.shape[1]), dt)
    if a.shape[1] != b.shape[0]:
        fail{S}(site + 1, pack_shape(a.shape), pack_shape(b.shape){E})
        return out
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            aik = a[i, k]
            for j in range(b.shape[1]):
                out[i, j] += aik * b[k, j]
    return out


@njit
def iroundn{S}(x, n, site{E}):
    """round(x, n) of an int: x itself for n >= 0, else x rounded half to
    even to a multiple of 10 ** -n."""
    if n >= 0:
        return x
    if n < -18:
        if n == -19 and (x > 5_000_000_000_000_000_000 or x < -5_000_000_000_000_000_000):
            fail{S}(site, x, n{E})
        return 0
    p = 1
    for _ in range(-n):
        p *= 10
    q = x // p
    r = x - q * p
    if 2 * r > p or (2 * r == p and q % 2 == 1):
        q += 1
    result, overflow = smul_ovf(q, p)
    if overflow:
        fail{S}(site, x, n{E})
    return result
'''

# math.NAME(x), failing (payload: x's bits, or 0) where x is outside its domain
_DOMAINS = (("sqrt", "x < 0.0", "f2bits(float(x))"), ("log", "x <= 0.0", "f2bits(float(x))"),
            ("log2", "x <= 0.0", "f2bits(float(x))"), ("log10", "x <= 0.0", "f2bits(float(x))"),
            ("sin", "math.isinf(x)", "0"), ("cos", "math.isinf(x)", "0"),
            ("tan", "math.isinf(x)", "0"), ("asin", "x < -1.0 or x > 1.0", "0"),
            ("acos", "x < -1.0 or x > 1.0", "0"))
_GUARDED_MATH = "".join(f'''
@njit(inline="always")
def {name}{{S}}(x, site{{E}}):
    if {bad}:
        fail{{S}}(site, {payload}, 0{{E}})
        return math.nan
    return math.{name}(x)
''' for name, bad, payload in _DOMAINS)


@njit(inline="always")
def pack_shape(shape):
    """A shape of rank <= 2 with dimensions below 2**31 as one int64 (for
    error messages): (d0 << 31 | d1) << 2 | rank; -1 when it does not fit."""
    if len(shape) > 2:
        return -1
    code = 0
    for d in shape:
        if d >= 2 ** 31:
            return -1
        code = (code << 31) | d
    return (code << 2) | len(shape)


def unpack_shape(code: int) -> str:
    """The text of a packed shape: "(3,)" or "(2,3)" (NumPy's spelling)."""
    if code < 0:
        return "(...)"
    rank = code & 3
    code >>= 2
    dims = []
    for _ in range(rank):
        dims.append(code & (2 ** 31 - 1))
        code >>= 31
    dims.reverse()
    return f"({dims[0]},)" if rank == 1 else "(" + ",".join(map(str, dims)) + ")"


_instantiated = False


def _instantiate() -> None:
    global _instantiated
    _instantiated = True
    for suffix, extra in (("", ""), ("_e", ", err")):
        source = (_TEMPLATE + _GUARDED_MATH).replace("{S}", suffix).replace("{E}", extra)
        exec(compile(source, f"<numba_rt{suffix}>", "exec"), globals())


def __getattr__(name: str):
    """The template's helpers are made on first use: only compiling needs
    them (loading cached machine code does not), and making ~100 Numba
    dispatchers would add tens of milliseconds to every cached run."""
    if not _instantiated:
        _instantiate()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------ checked int arithmetic
#
# For unmarked functions the JIT compiled because they were hot: there
# `int` keeps its arbitrary precision, so an int64 overflow must not wrap.
# These raise (site + 1) and runtime/jit.py re-runs the call in the
# interpreter, which computes the exact result. add_c, sub_c and mul_c are
# intrinsics (runtime/numba_intrinsics.py).

@njit(inline="always")
def neg_c(a, site):
    if a == INT64_MIN:
        fail(site + 1, a, 0)
    return -a


@njit(inline="always")
def abs_c(a, site):
    if a == INT64_MIN:
        fail(site + 1, a, 0)
    return abs(a)


@njit(inline="always")
def ifloordiv_c(a, b, site):
    if b == 0:
        fail(site, 0, 0)
        return 0
    if b == -1:
        return neg_c(a, site)
    return a // b


@njit
def ipow_c(a, b, site):
    if b < 0:
        fail(site, a, b)
        return 0
    result = 1
    base = a
    e = b
    while e > 0:
        if e & 1:
            result = mul_c(result, base, site)
        e >>= 1
        if e > 0:
            base = mul_c(base, base, site)
    return result


@njit
def sum_start(a, start):
    """sum(a, start) of a 1-D array: left to right, as Python's sum."""
    total = start
    for i in range(a.shape[0]):
        total = total + a[i]
    return total


# ------------------------------------------------------------------ round(x, n)

@njit(inline="always")
def _two_product(a, b):
    """(hi, lo) with hi + lo == a * b exactly (Dekker; no FMA needed)."""
    hi = a * b
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl
    return hi, lo


@njit
def _round_python(x, n):
    with objmode(r="float64"):
        r = round(x, n)
    return r


@njit
def roundn(x, n):
    """Python's round(x, n) for a float x: x * 10**n rounded half to even
    exactly (not the rounded product), then the float nearest to that
    integer / 10**n. Computed exactly for 0 <= n <= 22 with |x * 10**n|
    below 2**52 (an error-free product); other cases call Python's round."""
    if not math.isfinite(x) or x == 0.0:
        return x
    if n > 323:
        return x
    if n < -308:
        return 0.0 * x
    if n < 0 or n > 22:
        return _round_python(x, n)
    p = 1.0
    for _ in range(n):
        p *= 10.0
    hi, lo = _two_product(x, p)
    if abs(hi) < 0.25:
        return 0.0 * x
    if abs(hi) >= 4503599627370496.0:
        return _round_python(x, n)
    r = np.rint(hi)
    d = hi - r
    if d == 0.5 and lo > 0.0:
        r += 1.0
    elif d == -0.5 and lo < 0.0:
        r -= 1.0
    return r / p

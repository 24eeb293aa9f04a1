"""The run-time objects generated code calls, by the name each is bound to
in a program's namespace (the run-time half of stdlib/builtins.py).

`HELPERS` holds every helper that does not need NumPy; `array_helpers()`
gives the NumPy ones (`_np_*`, `_dt_*`), importing NumPy on that first call.
A program's namespace gets the array helpers only when its code names one
(runtime/image.py), so a program without arrays never imports NumPy.

This module imports neither the compiler nor `ast`: the fast start-up path
(npl/fast.py) builds namespaces from it directly.
"""
from __future__ import annotations

import builtins as py
import collections
import heapq
import itertools
import math

from npl.runtime.errors import NplRuntimeError
from npl.runtime.rtvalues import npl_equal, npl_format, npl_repr, npl_str


# ------------------------------------------------------------------ run-time helpers

def int_pow(base: int, exponent: int) -> int:
    if exponent < 0:
        raise NplRuntimeError("value", "negative exponent in int ** int; use a float base")
    return base ** exponent


def float_pow(base: float, exponent: float) -> float:
    result = base ** exponent
    if type(result) is complex:
        raise NplRuntimeError(
            "value", f"negative number raised to a fractional power ({base!r} ** {exponent!r})")
    return result


def array_sum(a):
    return a.sum().item()


def array_min(a):
    if a.size == 0:
        raise NplRuntimeError("value", "min() of an empty array")
    return a.min().item()


def array_max(a):
    if a.size == 0:
        raise NplRuntimeError("value", "max() of an empty array")
    return a.max().item()


def dot_scalar(a, b):
    import numpy as np
    return np.dot(a, b).item()


def assert_failed(message: object) -> None:
    text = "assertion failed" if message is None else f"assertion failed: {npl_str(message)}"
    raise NplRuntimeError("assert", text)


def set_pop(s: set):
    """set.pop(): Python's KeyError for an empty set would read as a missing
    key, so the error is NPL's own."""
    if not s:
        raise NplRuntimeError("key", "pop from an empty set")
    return s.pop()


def set_slice(xs: list, lower, upper, step, values) -> None:
    """`xs[lower:upper:step] = values`, as Python does it (an extended
    slice takes exactly as many values as it has places: a ValueError)."""
    xs[lower:upper:step] = values


def tuple_of(items, size: int) -> tuple:
    """tuple(xs) where the type wants a tuple of `size` elements."""
    made = py.tuple(items)
    if len(made) != size:
        raise NplRuntimeError("value", f"tuple() got {len(made)} element(s) where a tuple "
                              f"of {size} is expected")
    return made


def next_of(items, *default):
    """next(items[, default]); without a default, an exhausted iterator is
    NPL's error (Python's StopIteration would end a generator around it)."""
    for item in items:
        return item
    if default:
        return default[0]
    raise NplRuntimeError("value", "next() found no element: give it a default, "
                          "next(..., default)")


def hole_reached(where: str, text: str) -> None:
    short = " ".join(text.split())
    short = short if len(short) <= 60 else short[:57] + "..."
    raise NplRuntimeError("hole", f"unfilled hole at {where}: ?{{{short}}}")


def heappop(heap: list):
    """heapq.heappop, with a message that names the heap."""
    if not heap:
        raise IndexError("heappop from an empty heap")
    return heapq.heappop(heap)


def heapreplace(heap: list, item):
    if not heap:
        raise IndexError("heapreplace on an empty heap")
    return heapq.heapreplace(heap, item)


# (lang/builtin_sigs.py INT_MATH_FUNCS, written out: a cached run imports no lang/)
_INT_MATH_NAMES = ("factorial", "comb", "perm", "gcd", "lcm", "isqrt")
_MATH_NAMES = ("sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos",
               "atan", "atan2", "floor", "ceil", "isnan", "isinf")

HELPERS: dict[str, object] = {
    # Python built-ins NPL exposes under the same meaning
    "_print": py.print, "_len": py.len, "_range": py.range, "_enumerate": py.enumerate,
    "_zip": py.zip, "_list": py.list, "_set": py.set, "_dict": py.dict, "_tuple_of": tuple_of,
    "_abs": py.abs, "_min": py.min, "_max": py.max, "_sum": py.sum, "_sorted": py.sorted,
    "_reversed": py.reversed, "_map": py.map, "_filter": py.filter, "_any": py.any,
    "_all": py.all, "_str": py.str, "_int": py.int, "_float": py.float, "_bool": py.bool,
    "_round": py.round, "_divmod": py.divmod, "_pow": py.pow, "_ord": py.ord, "_chr": py.chr,
    "_hex": py.hex, "_bin": py.bin, "_format": py.format, "_repr": py.repr,
    "_Counter": collections.Counter,
    # (lang/builtin_sigs.py HEAP_FUNCTIONS, written out: a cached run imports no lang/)
    **{f"_{name}": getattr(heapq, name) for name in (
        "heappush", "heapify", "heappushpop", "nlargest", "nsmallest")},
    "_heappop": heappop, "_heapreplace": heapreplace,     # with messages that name the heap
    "_combinations": itertools.combinations, "_permutations": itertools.permutations,
    # math on scalars
    **{f"_m_{name}": getattr(math, name) for name in _MATH_NAMES + _INT_MATH_NAMES},
    # arrays (reductions on an array; NumPy itself comes with array_helpers())
    "_array_sum": array_sum, "_array_min": array_min, "_array_max": array_max,
    "_dot_scalar": dot_scalar,
    # NPL-specific semantics
    "_int_pow": int_pow, "_float_pow": float_pow,
    "_npl_str": npl_str, "_npl_repr": npl_repr, "_npl_format": npl_format,
    "_npl_equal": npl_equal,
    "_assert_failed": assert_failed, "_hole_reached": hole_reached, "_set_pop": set_pop,
    "_next": next_of,
    "_set_slice": set_slice,
}

# NumPy names behind the array helpers (helper name -> attribute of numpy).
_NUMPY_NAMES: dict[str, str] = {
    # math on arrays (ufuncs)
    **{f"_np_{name}": {"asin": "arcsin", "acos": "arccos", "atan": "arctan",
                       "atan2": "arctan2"}.get(name, name) for name in _MATH_NAMES},
    # arrays
    "_np_zeros": "zeros", "_np_ones": "ones", "_np_full": "full", "_np_arange": "arange",
    "_np_array": "array", "_np_copy": "copy", "_np_dot": "dot",
    "_dt_int": "int64", "_dt_float": "float64", "_dt_bool": "bool_",
}
ARRAY_HELPER_NAMES: frozenset[str] = frozenset(_NUMPY_NAMES)

_array_helpers: dict[str, object] = {}


def array_helpers() -> dict[str, object]:
    """The NumPy helpers (imports NumPy the first time)."""
    if not _array_helpers:
        import numpy as np
        _array_helpers.update({name: getattr(np, attr) for name, attr in _NUMPY_NAMES.items()})
    return _array_helpers

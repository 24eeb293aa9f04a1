"""Run-time values for the example-driven synthesizer.

Takes the Python values that examples are written in (int, float, bool, str,
None, list, dict, set, tuple) and the static NPL types of the positions they
fill; gives back checked, type-normalised values (`coerce`), hashable keys
for observational equivalence (`freeze`, `value_key`), type-aware comparison
against expected outputs (`same_value`), pointwise evaluation of an op over
all evaluation points (`apply_pointwise`), and the `ERR` marker a candidate
has where its evaluation failed (index out of range, division by zero, a
value past the size limits).
"""
from __future__ import annotations

import math

from typing import Callable

from npl.lang.types import (
    BOOL, FLOAT, INT, NONE, STR, DictT, IterT, ListT, OptionalT, PrimT, SetT,
    TupleT, Type, inner_types,
)


class _Err:
    """The value of a candidate at an input where evaluating it failed."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "<error>"


ERR = _Err()

INT_LIMIT = 10 ** 18          # larger integers are treated as a failure
LEN_LIMIT = 10_000            # longer strings / lists are treated as a failure


def in_limits(value: object) -> bool:
    """False for values that would make the search blow up."""
    kind = type(value)
    if kind is int:
        return -INT_LIMIT <= value <= INT_LIMIT
    if kind in (str, list, tuple, set, frozenset, dict):
        return len(value) <= LEN_LIMIT
    return True


def freeze(value: object) -> object:
    """A hashable key such that two values of one NPL type get equal keys
    exactly when they are observationally equal (print the same, compare the
    same). Lists and dicts keep their order; sets do not."""
    kind = type(value)
    if kind is list:
        return ("L",) + tuple(map(freeze, value))
    if kind is tuple:
        return ("T",) + tuple(map(freeze, value))
    if kind is set or kind is frozenset:
        return frozenset(map(freeze, value))
    if kind is dict:
        return ("D",) + tuple((freeze(k), freeze(v)) for k, v in value.items())
    if kind is float and value != value:
        return "nan"
    return value


def same_value(actual: object, expected: object) -> bool:
    """Equality for checking an output: floats within 1e-9 relative, bools
    never equal to ints, containers element by element."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, float) or isinstance(actual, float):
        if not isinstance(actual, (int, float)) or not isinstance(expected, (int, float)):
            return False
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12) or (
            actual != actual and expected != expected)
    if isinstance(expected, (list, tuple)):
        return (type(actual) is type(expected) and len(actual) == len(expected)
                and all(same_value(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, (set, frozenset)):
        return isinstance(actual, (set, frozenset)) and set(actual) == set(expected)
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and list(actual) == list(expected)
                and all(same_value(actual[k], expected[k]) for k in expected))
    return type(actual) is type(expected) and actual == expected


class ExampleError(ValueError):
    """An example value that does not fit the declared NPL type (internal:
    the filler then skips the synthesizer for that hole)."""


def coerce(value: object, typ: Type, where: str) -> object:
    """Check that `value` is a value of NPL type `typ` and return it in the
    form the synthesizer computes with (ints widened to floats where `typ`
    says float, sets as frozensets). `where` names the position for the
    error message."""
    def fail() -> ExampleError:
        return ExampleError(f"{where}: {value!r} is not a value of type {typ}")

    if isinstance(typ, OptionalT):
        return None if value is None else coerce(value, typ.inner, where)
    if isinstance(typ, PrimT):
        return _coerce_prim(value, typ, fail)
    if isinstance(typ, ListT):
        if not isinstance(value, list):
            raise fail()
        return [coerce(v, typ.elem, where) for v in value]
    if isinstance(typ, SetT):
        if not isinstance(value, (set, frozenset)):
            raise fail()
        return frozenset(coerce(v, typ.elem, where) for v in value)
    if isinstance(typ, DictT):
        if not isinstance(value, dict):
            raise fail()
        return {coerce(k, typ.key, where): coerce(v, typ.value, where)
                for k, v in value.items()}
    if isinstance(typ, TupleT):
        if not isinstance(value, (tuple, list)) or len(value) != len(typ.elems):
            raise fail()
        return tuple(coerce(v, t, where) for v, t in zip(value, typ.elems))
    raise fail()


def _coerce_prim(value: object, typ: PrimT, fail) -> object:
    if typ == BOOL:
        if isinstance(value, bool):
            return value
    elif typ == INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif typ == FLOAT:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif typ == STR:
        if isinstance(value, str):
            return value
    elif typ == NONE:
        if value is None:
            return None
    raise fail()


def supported(typ: Type) -> bool:
    """Types the synthesizer can compute with: primitives and the built-in
    containers of them (no arrays, structs or functions)."""
    if isinstance(typ, PrimT):
        return True
    if isinstance(typ, (ListT, SetT, IterT, OptionalT, DictT, TupleT)):
        return all(supported(t) for t in inner_types(typ))
    return False


def depth(typ: Type) -> int:
    """How deeply containers nest: 0 for primitives, 1 for list[int]...
    (an optional adds no level)."""
    inner = inner_types(typ)
    if not inner and not isinstance(typ, TupleT):
        return 0
    level = 0 if isinstance(typ, OptionalT) else 1
    return level + max((depth(t) for t in inner), default=0)


def component_types(typ: Type) -> set[Type]:
    """`typ` and every type nested inside it."""
    found = {typ}
    for t in inner_types(typ):
        found |= component_types(t)
    return found


# ------------------------------------------------------- evaluating ops

def apply_pointwise(fn: Callable, vecs: list[list], ret: Type) -> list:
    """Apply `fn` point by point; ERR where an argument is ERR, `fn`
    raises, or the result is past the limits."""
    if len(vecs) == 1:
        out = _map1(fn, vecs[0])
    elif len(vecs) == 2:
        out = _map2(fn, vecs[0], vecs[1])
    else:
        out = [ERR if ERR in args else _call(fn, args) for args in zip(*vecs)]
    if ret == FLOAT:
        out = [float(v) if type(v) is int else v for v in out]
    return out


def _map1(fn: Callable, xs: list) -> list:
    out = []
    append = out.append
    for a in xs:
        if a is ERR:
            append(ERR)
            continue
        try:
            r = fn(a)
        except Exception:
            append(ERR)
            continue
        append(r if in_limits(r) else ERR)
    return out


def _map2(fn: Callable, xs: list, ys: list) -> list:
    out = []
    append = out.append
    for a, b in zip(xs, ys):
        if a is ERR or b is ERR:
            append(ERR)
            continue
        try:
            r = fn(a, b)
        except Exception:
            append(ERR)
            continue
        append(r if in_limits(r) else ERR)
    return out


def _call(fn: Callable, args: tuple) -> object:
    try:
        r = fn(*args)
    except Exception:
        return ERR
    return r if in_limits(r) else ERR


_KEY_FUNCTIONS: dict[Type, Callable[[list], tuple]] = {}


def value_key(typ: Type, vals: list) -> tuple:
    """The observational-equivalence key of a value vector of type `typ`."""
    make = _KEY_FUNCTIONS.get(typ)
    if make is None:
        make = _KEY_FUNCTIONS[typ] = _key_function(typ)
    return make(vals)


def _key_function(typ: Type) -> Callable[[list], tuple]:
    flat = lambda t: isinstance(t, PrimT) and t != FLOAT            # noqa: E731
    if flat(typ) or (isinstance(typ, OptionalT) and flat(typ.inner)):
        return tuple
    if isinstance(typ, IterT) and flat(typ.elem):
        return tuple                                                 # values are tuples
    if isinstance(typ, ListT) and flat(typ.elem):
        return lambda vals: tuple(v if v is ERR else tuple(v) for v in vals)
    return lambda vals: tuple(map(freeze, vals))

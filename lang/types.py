"""NPL's static types.

Types are frozen, value-compared dataclasses: `ListT(INT) == ListT(INT)`.
`str(t)` prints the type as NPL source writes it (`list[int]`, `int | None`).
`ITER` types (`IterT`) are internal: the type of `range(...)`, generator
expressions, `enumerate`, `zip`, `map`, `filter`, `reversed`, `d.items()`.
`ErrorT` stands for an expression that already produced a diagnostic; it is
compatible with everything so one mistake does not cascade.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


class Type:
    __slots__ = ()

    def __str__(self) -> str:  # pragma: no cover - overridden
        return self.__class__.__name__


@dataclass(frozen=True)
class PrimT(Type):
    name: str                            # "int" "float" "bool" "str" "None"

    def __str__(self) -> str:
        return self.name


INT = PrimT("int")
FLOAT = PrimT("float")
BOOL = PrimT("bool")
STR = PrimT("str")
NONE = PrimT("None")


@dataclass(frozen=True)
class ListT(Type):
    elem: Type

    def __str__(self) -> str:
        return f"list[{self.elem}]"


@dataclass(frozen=True)
class SetT(Type):
    elem: Type

    def __str__(self) -> str:
        return f"set[{self.elem}]"


@dataclass(frozen=True)
class DictT(Type):
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"dict[{self.key}, {self.value}]"


@dataclass(frozen=True)
class CounterT(DictT):
    """Python's collections.Counter, built in: a dict from keys to int
    counts in which a missing key reads 0. It is a dict[K, int] wherever one
    is expected, as in Python (a subclass)."""
    value: Type = INT

    def __init__(self, key: Type) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "value", INT)

    def __str__(self) -> str:
        return f"Counter[{self.key}]"


@dataclass(frozen=True)
class TupleT(Type):
    elems: tuple[Type, ...]

    def __str__(self) -> str:
        return f"tuple[{', '.join(map(str, self.elems))}]"


@dataclass(frozen=True)
class OptionalT(Type):
    inner: Type

    def __str__(self) -> str:
        return f"{self.inner} | None"


@dataclass(frozen=True)
class ArrayT(Type):
    elem: PrimT                          # INT, FLOAT or BOOL
    rank: int = 1

    def __str__(self) -> str:
        return f"array[{self.elem}]" if self.rank == 1 else f"array[{self.elem}, {self.rank}]"


@dataclass(frozen=True)
class StructT(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class FuncT(Type):
    params: tuple[Type, ...]
    ret: Type

    def __str__(self) -> str:
        return f"({', '.join(map(str, self.params))}) -> {self.ret}"


@dataclass(frozen=True)
class IterT(Type):
    elem: Type

    def __str__(self) -> str:
        return f"iterator[{self.elem}]"


@dataclass(frozen=True)
class ErrorT(Type):
    def __str__(self) -> str:
        return "<error>"


ERROR = ErrorT()

HASHABLE_PRIMS = (INT, STR, BOOL, FLOAT)
ARRAY_ELEMS = (INT, FLOAT, BOOL)


def is_hashable(t: Type) -> bool:
    """Allowed as dict key / set element: int, str, bool, float, tuples of those."""
    if t in HASHABLE_PRIMS or isinstance(t, ErrorT):
        return True
    return isinstance(t, TupleT) and all(is_hashable(e) for e in t.elems)


def is_numeric(t: Type) -> bool:
    return t == INT or t == FLOAT


def orderable_key(t: Type) -> bool:
    """Can values of type `t` be sorted (a sort, min or max key): numbers,
    str, bool, and tuples and lists of those (compared element-wise)."""
    if is_numeric(t) or t in (STR, BOOL) or isinstance(t, ErrorT):
        return True
    if isinstance(t, TupleT):
        return all(orderable_key(x) for x in t.elems)
    if isinstance(t, ListT):
        return orderable_key(t.elem)
    return False


def assignable(src: Type, dst: Type) -> bool:
    """Can a value of type `src` be used where `dst` is expected?
    int widens to float; T and None flow into T | None; a Counter[K] is a
    dict[K, int]."""
    if src == dst or isinstance(src, ErrorT) or isinstance(dst, ErrorT):
        return True
    if src == INT and dst == FLOAT:
        return True
    if isinstance(dst, OptionalT):
        return src == NONE or assignable(src, dst.inner) or (
            isinstance(src, OptionalT) and assignable(src.inner, dst.inner))
    if isinstance(src, TupleT) and isinstance(dst, TupleT):
        return len(src.elems) == len(dst.elems) and all(
            assignable(s, d) for s, d in zip(src.elems, dst.elems))
    if isinstance(src, CounterT) and type(dst) is DictT:
        return dst == DictT(src.key, INT)   # a Counter is a dict (Python: a subclass)
    return False


def needs_widening(src: Type, dst: Type) -> bool:
    """True when an int value must be converted to float to fit `dst`."""
    if src == INT and (dst == FLOAT or dst == OptionalT(FLOAT)):
        return True
    return False


def join(a: Type, b: Type) -> Optional[Type]:
    """The smallest type both `a` and `b` fit, or None (used for `x if c
    else y`, list literal elements, min/max of mixed int/float)."""
    if assignable(a, b):
        return b
    if assignable(b, a):
        return a
    if a == NONE:
        return OptionalT(b)
    if b == NONE:
        return OptionalT(a)
    if isinstance(a, OptionalT) and assignable(b, a.inner):
        return a
    if isinstance(b, OptionalT) and assignable(a, b.inner):
        return b
    return None


def strip_optional(t: Type) -> Type:
    return t.inner if isinstance(t, OptionalT) else t


def inner_types(t: Type) -> tuple[Type, ...]:
    """The types a value container holds directly: a list's, set's or
    iterator's element, an optional's inner type, a dict's key and value, a
    tuple's elements; () for every other type (arrays, structs and
    functions included)."""
    if isinstance(t, (ListT, SetT, IterT)):
        return (t.elem,)
    if isinstance(t, OptionalT):
        return (t.inner,)
    if isinstance(t, DictT):
        return (t.key, t.value)
    if isinstance(t, TupleT):
        return t.elems
    return ()


def not_iterable(t: Type) -> str:
    """The E015 message for `for x in t` where element_type(t) is None."""
    if isinstance(t, TupleT):
        return (f"cannot iterate over {t}: its elements have different types; "
                f"unpack it instead ({', '.join('abcdefgh'[:len(t.elems)])} = ...) "
                "or use a list")
    return f"cannot iterate over {t}"


def element_type(t: Type) -> Optional[Type]:
    """What `for x in t` binds x to, or None if t is not iterable."""
    if isinstance(t, (ListT, SetT, IterT)):
        return t.elem
    if t == STR:
        return STR
    if isinstance(t, DictT):
        return t.key
    if isinstance(t, ArrayT):
        return t.elem if t.rank == 1 else ArrayT(t.elem, t.rank - 1)
    if isinstance(t, TupleT) and t.elems and all(e == t.elems[0] for e in t.elems):
        return t.elems[0]                # a tuple of one element type, as `in` allows
    if isinstance(t, ErrorT):
        return ERROR
    return None


@dataclass(frozen=True)
class PendingT(Type):
    """The type of a local assigned an empty literal without annotation
    (`seen = set()`), until a later use tells its element type
    (lang/pending.py). Never survives checking."""
    kind: str                            # "list" | "set" | "dict" | "Counter"

    def __str__(self) -> str:
        return f"{self.kind}[?]"

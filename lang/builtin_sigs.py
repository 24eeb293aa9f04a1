"""Signatures of NPL's built-in methods (docs/reference.md §6), as data.

Each method signature is `(params, result)` written in a tiny notation that
refers to the receiver's type parameters:

    T  the element type (list[T], set[T]) or str for str methods
    K  V  a dict's key and value types
    ?X    an optional parameter of type X (may be omitted)
    *X    any number of X
    IT    any iterable whose elements are T

The checker (lang/check_calls.py) interprets these; the runtime implements
the same names (IR op "<kind>.<method>").
"""
from __future__ import annotations

import re
from typing import Optional

from .lexer import NO_EXCEPTIONS

STR_METHODS: dict[str, tuple[tuple[str, ...], str]] = {
    "lower": ((), "str"), "upper": ((), "str"),
    "strip": (("?str",), "str"), "lstrip": (("?str",), "str"), "rstrip": (("?str",), "str"),
    "split": (("?str", "?int"), "list[str]"), "splitlines": ((), "list[str]"),
    "join": (("ITstr",), "str"),
    "replace": (("str", "str", "?int"), "str"),
    "startswith": (("str",), "bool"), "endswith": (("str",), "bool"),
    "find": (("str", "?int", "?int"), "int"), "rfind": (("str", "?int", "?int"), "int"),
    "index": (("str", "?int", "?int"), "int"), "count": (("str",), "int"),
    "isdigit": ((), "bool"), "isalpha": ((), "bool"), "isalnum": ((), "bool"),
    "isspace": ((), "bool"), "isupper": ((), "bool"), "islower": ((), "bool"),
    "title": ((), "str"), "capitalize": ((), "str"), "swapcase": ((), "str"),
    "zfill": (("int",), "str"), "center": (("int", "?str"), "str"),
    "ljust": (("int", "?str"), "str"), "rjust": (("int", "?str"), "str"),
    "partition": (("str",), "tuple[str, str, str]"),
}

LIST_METHODS = {
    "append": (("T",), "None"), "pop": (("?int",), "T"), "insert": (("int", "T"), "None"),
    "extend": (("IT",), "None"), "remove": (("T",), "None"), "index": (("T",), "int"),
    "count": (("T",), "int"), "copy": ((), "list[T]"), "clear": ((), "None"),
    "reverse": ((), "None"),
    # sort(key=, reverse=) is handled specially (keywords)
}

DICT_METHODS = {
    "get": (("K",), "V?"),               # get(k, default) handled specially
    "keys": ((), "iter[K]"), "values": ((), "iter[V]"), "items": ((), "iter[tuple[K, V]]"),
    "pop": (("K",), "V"), "copy": ((), "dict[K, V]"), "setdefault": (("K", "V"), "V"),
    "update": (("dict[K, V]",), "None"), "clear": ((), "None"),
}

# Counter's own methods; the rest are DICT_METHODS (update and subtract,
# which take a Counter, dict or iterable of keys, are checked specially).
COUNTER_METHODS = {
    "most_common": (("?int",), "list[tuple[K, int]]"), "elements": ((), "iter[K]"),
    "total": ((), "int"), "copy": ((), "Counter[K]"),
}

SET_METHODS = {
    "add": (("T",), "None"), "remove": (("T",), "None"), "discard": (("T",), "None"),
    "pop": ((), "T"), "copy": ((), "set[T]"), "clear": ((), "None"),
    "union": (("IT",), "set[T]"), "intersection": (("IT",), "set[T]"),
    "difference": (("IT",), "set[T]"), "issubset": (("IT",), "bool"),
    "issuperset": (("IT",), "bool"),
}

MATH_FLOAT_FUNCS = frozenset(
    "sqrt exp log log2 log10 sin cos tan asin acos atan".split())
MATH_CONSTANTS = {"pi": 3.141592653589793, "e": 2.718281828459045,
                  "inf": float("inf"), "nan": float("nan")}

# Python's integer math functions, built in under their own names.
INT_MATH_FUNCS = frozenset("factorial comb perm gcd lcm isqrt".split())

# Python's heapq functions, built in under their own names (a list is the heap).
HEAP_FUNCTIONS = frozenset("heappush heappop heapify heappushpop heapreplace nlargest nsmallest".split())
ITERTOOLS_FUNCTIONS = frozenset({"combinations", "permutations"})     # Python's itertools

BUILTIN_FUNCTIONS = frozenset("""
print len range prange enumerate zip list set dict tuple abs min max sum sorted reversed
map filter any all next str int float bool round divmod pow ord chr hex bin
sqrt exp log log2 log10 sin cos tan asin acos atan atan2 floor ceil isnan isinf
zeros ones empty full arange array copy dot Counter
""".split()) | HEAP_FUNCTIONS | INT_MATH_FUNCS | ITERTOOLS_FUNCTIONS

TYPE_NAMES = frozenset("int float bool str list dict set tuple array None Counter".split())

# Python names a model may reach for, with what to use in NPL instead.
PYTHON_ONLY_HINTS = {
    "isinstance": "NPL is statically typed: the type is known, no run-time check is needed",
    "type": "NPL is statically typed: the type is known at compile time",
    "open": "NPL programs cannot access files",
    "input": "NPL programs cannot read input; take the value as a parameter",
    "eval": "NPL has no eval", "exec": "NPL has no exec",
    "getattr": "use `obj.field`", "setattr": "use `obj.field = value`",
    "hasattr": "struct fields are known statically",
    "globals": "NPL has no reflection", "locals": "NPL has no reflection",
    "vars": "NPL has no reflection", "__import__": "NPL has no imports of Python modules",
    "compile": "NPL has no compile", "id": "NPL has no object identities",
    "hash": "NPL has no hash()", "iter": "use a for loop, or next() on a generator expression",
    "math": "math functions are built in: write sqrt(x), not math.sqrt(x)",
    "heapq": "heap functions are built in: write heappush(h, x), not heapq.heappush(h, x)",
    "np": "array functions are built in: write zeros(n), not np.zeros(n)",
    "numpy": "array functions are built in: write zeros(n), not numpy.zeros(n)",
    "collections": "Counter is built in, with no import: write Counter(xs), not "
                   "collections.Counter(xs); instead of a defaultdict use d.get(k, default) "
                   "or d.setdefault(k, default)",
    "defaultdict": "use d.get(k, default) or d.setdefault(k, default) (Counter is built in)",
    "re": "NPL has no regular expressions; use str methods",
    "itertools": "combinations(xs, r) and permutations(xs, r) are built in, with no import; "
                 "write the other itertools as loops",
}

# A made-up function standing for a `raise` (`raise_value_error(...)`,
# `raiseError(...)`): what a model writes when told NPL has no exceptions.
RAISE_LIKE = re.compile(r"raise_?\w*(error|exception)", re.IGNORECASE)


def python_hint(name: str) -> Optional[str]:
    """What to write in NPL instead of the undefined Python-like `name`, or None."""
    if name in PYTHON_ONLY_HINTS:
        return PYTHON_ONLY_HINTS[name]
    if RAISE_LIKE.fullmatch(name):
        return NO_EXCEPTIONS
    return None

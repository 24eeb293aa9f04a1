"""Values crossing into and out of NPL, converted by type: the one converter.

Three kinds of data become NPL values of a known type `t`, and one road
leads out:
  * host values (`HOST`): what an embedding host passes (npl/api.py): ints,
    floats, strings, lists and tuples, sets, dicts, NumPy arrays and scalars,
    CPU torch tensors, struct objects or anything with the struct's fields
    as attributes or keys;
  * JSON data (`JSON`): an oracle's answer (filling/oracle_types.py) or an
    `npl map` record: arrays for lists, sets, tuples and arrays, an object
    with exactly a struct's fields, a dict with non-string keys as an array
    of [key, value] pairs, "nan"/"inf"/"-inf" for those floats;
  * text (`from_text`): one CSV cell: a string as it is, an empty cell None
    for an optional type, anything else read as JSON;
  * `to_json(value)`: an NPL value as JSON data, the inverse of the JSON form.

`convert(value, t, structs, where, form)` gives the exact NPL value (no copy
for arrays) or raises `ConversionError` saying where, what was expected and
what was found: `line 3, argument 'age': expected int, found "x"`. Callers
turn it into their own error (the API's NplTypeError, an oracle's
AnswerTypeError, a map record's error line). `structs` maps a struct's IR
name to (its class, [(field, type)]).

Subclasses of int, float, str, list, tuple and dict are read through the
base type's own methods, so an overridden `__add__`, `__iter__`, `__len__`
or `items` never reaches NPL code.
"""
from __future__ import annotations

import json
import math
import sys
from collections import Counter
from typing import Any

from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, CounterT, DictT, ListT,
                            OptionalT, SetT, StructT, TupleT, Type)

HOST = "host"
JSON = "json"

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class ConversionError(ValueError):
    """A value that is not of the NPL type it must become. `where` names
    the place (`argument 'xs'[2]`), `expected` the type, `found` the value
    as shown to the user: its JSON text (`found "x"`), or a host value's
    Python type and repr (`got str 'x'`)."""

    def __init__(self, where: str, expected: str, found: str, verb: str = "found"):
        super().__init__(f"{where}: expected {expected}, {verb} {found}")
        self.where, self.expected, self.found, self.verb = where, expected, found, verb

    def within(self, outer: str) -> "ConversionError":
        """The same error with `outer` before its place (a caller that
        converts with where="" names the place only when it fails)."""
        return ConversionError(outer + self.where, self.expected, self.found, self.verb)


def convert(value: Any, t: Type, structs: dict, where: str, form: str = HOST) -> Any:
    """`value` (host data, or JSON data when `form` is JSON) as the NPL value
    of type `t`; ConversionError otherwise."""
    try:
        return _Converter(structs, form).value(value, t)
    except _Mismatch as m:
        found = _shown_json(m.value) if form == JSON else _shown_host(m.value)
        raise ConversionError(where + "".join(reversed(m.path)), m.expected, found,
                              "found" if form == JSON else "got") from None


def from_text(text: str, t: Type, structs: dict, where: str) -> Any:
    """A text cell (CSV) as the NPL value of type `t`: the text itself for
    `str`, None for an empty cell of an optional type, else the text read
    as JSON (`12`, `2.5`, `true`, `[1, 2]`, `{"x": 1}`)."""
    inner = t.inner if isinstance(t, OptionalT) else t
    if isinstance(t, OptionalT) and text == "":
        return None
    if inner == STR:
        return text
    if inner == BOOL and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ConversionError(where, str(t), _shown_json(text)) from None
    return convert(data, t, structs, where, JSON)


def to_json(value: Any) -> Any:
    """An NPL value as JSON data: lists, tuples, sets (sorted) and arrays as
    arrays, structs as objects of their fields, dicts as objects (string
    keys) or arrays of [key, value] pairs, a non-finite float as "nan",
    "inf" or "-inf". A function value raises TypeError."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    fields = getattr(kind, "npl_fields", None)             # a struct
    if fields is not None:
        return {f: to_json(getattr(value, f)) for f in fields}
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_json(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return [[to_json(k), to_json(v)] for k, v in value.items()]
    np = sys.modules.get("numpy")                     # a NumPy value exists only once it is imported
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        return to_json(value.tolist())
    raise TypeError(f"a {type(value).__name__} value has no JSON form")


class _Mismatch(Exception):
    """Inside the converter: `value` is not `expected`; `path` collects the
    places (`[2]`, `.age`) innermost first while it propagates, so a value
    that converts builds no location text at all."""

    def __init__(self, expected: str, value: Any):
        self.expected, self.value, self.path = expected, value, []


def _at(convert_one, value: Any, t: Any, place: str, key: Any = None) -> Any:
    """convert_one(value, t), adding `place.format(key)` (`[{}]`, `.{}`) to
    the place of a mismatch: the text is made only when one happens."""
    try:
        return convert_one(value, t)
    except _Mismatch as m:
        m.path.append(place.format(key))
        raise


class _Converter:
    """One conversion's settings: the program's structs and the form of the
    data (HOST or JSON)."""

    def __init__(self, structs: dict, form: str):
        self.structs = structs
        self.json = form == JSON

    def value(self, value: Any, t: Type) -> Any:
        exact = _EXACT.get(type(value))            # the common case: a value of just that type
        if exact is not None and exact is t:
            return value
        if isinstance(t, OptionalT):
            return None if value is None else self.value(value, t.inner)
        if t == NONE:
            if value is None:
                return None
            raise _Mismatch("None", value)
        scalar = _SCALARS.get(t)
        if scalar is not None:
            return scalar(self, value)
        if isinstance(t, (ListT, SetT)):
            return self.collection(value, t)
        if isinstance(t, CounterT):
            return Counter(self.dict(value, t))
        if isinstance(t, DictT):
            return self.dict(value, t)
        if isinstance(t, TupleT):
            items = _items(value) if isinstance(value, (tuple, list)) else None
            if items is None or len(items) != len(t.elems):
                raise _Mismatch(str(t), value)
            return tuple(_at(self.value, v, et, "[{}]", i)
                         for i, (v, et) in enumerate(zip(items, t.elems)))
        if isinstance(t, ArrayT):
            return self.array(value, t)
        if isinstance(t, StructT):
            return self.struct(value, t)
        raise _Mismatch(str(t), value)

    # -- scalars
    def bool_(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        return self.numpy_scalar(value, bool, "bool")

    def int_(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int.__int__(value)               # exact int, whatever a subclass overrides
        return self.numpy_scalar(value, int, "int")

    def float_(self, value: Any) -> float:
        if isinstance(value, bool):
            raise _Mismatch("float", value)
        if isinstance(value, int):
            return float(int.__int__(value))
        if isinstance(value, float):
            return float.__float__(value)
        if self.json and isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        return self.numpy_scalar(value, float, "float")

    def str_(self, value: Any) -> str:
        if isinstance(value, str):
            return str.__str__(value)
        raise _Mismatch("str", value)

    def numpy_scalar(self, value: Any, kind: type, name: str) -> Any:
        np = sys.modules.get("numpy")               # a NumPy scalar exists only once it is imported
        if np is not None:
            checks = {int: np.integer, float: np.floating, bool: np.bool_}
            if isinstance(value, checks[kind]) or (kind is float and isinstance(value, np.integer)):
                return kind(value)
        raise _Mismatch(name, value)

    # -- containers
    def collection(self, value: Any, t) -> Any:
        kinds = (list, tuple) if isinstance(t, ListT) else (set, frozenset, list, tuple)
        if not isinstance(value, kinds):
            raise _Mismatch(str(t), value)
        items = [_at(self.value, v, t.elem, "[{}]", i) for i, v in enumerate(_items(value))]
        return items if isinstance(t, ListT) else set(items)

    def dict(self, value: Any, t: DictT) -> dict:
        if self.json and t.key != STR:
            pairs = value if isinstance(value, list) else None
            if pairs is None or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise _Mismatch(f"{t} (an array of [key, value] pairs)", value)
        elif isinstance(value, dict):
            pairs = dict.items(value)
        else:
            raise _Mismatch(str(t), value)
        return {_at(self.value, k, t.key, " key"): _at(self.value, v, t.value, "[{!r}]", k)
                for k, v in pairs}

    def struct(self, value: Any, t: StructT) -> Any:
        cls, fields = self.structs[t.name]
        if type(value) is cls:
            return value
        names = [f for f, _ in fields]
        if self.json:
            if not isinstance(value, dict) or set(value) != set(names):
                raise _Mismatch(f"{t} (an object with exactly the fields {', '.join(names)})", value)
            return cls(*[_at(self.value, value[f], ft, ".{}", f) for f, ft in fields])
        missing = object()
        get = (lambda f: dict.get(value, f, missing)) if isinstance(value, dict) else \
            (lambda f: getattr(value, f, missing))
        args = []
        for f, ft in fields:
            v = get(f)
            if v is missing:
                raise _Mismatch(f"{t} (no field '{f}')", value)
            args.append(_at(self.value, v, ft, ".{}", f))
        return cls(*args)

    def array(self, value: Any, t: ArrayT) -> Any:
        import numpy as np
        torch = sys.modules.get("torch")          # a tensor exists only once torch is imported
        if torch is not None and isinstance(value, torch.Tensor):
            if value.is_cuda:
                return value                      # used in place by CUDA kernels
            value = value.detach().numpy()        # shares memory with the tensor
        kinds = {INT: "i", FLOAT: "f", BOOL: "b"}
        expected = f"{t} (a {t.rank}-D array of {t.elem})"
        if self.json and isinstance(value, list):
            value = self.array_from_lists(value, t, expected)
        if not isinstance(value, np.ndarray):
            raise _Mismatch(str(t), value)
        if value.dtype.kind != kinds[t.elem] or value.ndim != t.rank:
            raise _Mismatch(expected, value)
        return value

    def array_from_lists(self, data: list, t: ArrayT, expected: str) -> Any:
        """Nested JSON arrays as a NumPy array of `t` (each element checked
        as its type, so `true` is no int and `1.5` no bool)."""
        import numpy as np

        def rows(item, depth: int):
            if depth == t.rank:
                return self.value(item, t.elem)
            if not isinstance(item, list):
                raise _Mismatch(expected, data)
            return [_at(rows, v, depth + 1, "[{}]", i) for i, v in enumerate(item)]
        dtypes = {INT: np.int64, FLOAT: np.float64, BOOL: np.bool_}
        try:
            return np.array(rows(data, 0), dtype=dtypes[t.elem])
        except (ValueError, OverflowError):       # ragged rows, an int beyond 64 bits
            raise _Mismatch(expected, data) from None


_SCALARS = {BOOL: _Converter.bool_, INT: _Converter.int_, FLOAT: _Converter.float_,
            STR: _Converter.str_}
# A value of exactly one of these classes is already the NPL value of the
# type (checked by identity first: no type comparison for the common case).
_EXACT = {str: STR, int: INT, float: FLOAT, bool: BOOL}


def _items(value: Any) -> list:
    """The elements of a list, tuple, set or frozenset, read through the
    base type (a subclass's `__iter__` or `__len__` is not asked)."""
    for base in (list, tuple, set, frozenset):
        if isinstance(value, base):
            return list(base.__iter__(value))
    return list(value)


def _shown_host(value: Any) -> str:
    """A host value for an error: its type and a short repr (a failing
    __repr__ too)."""
    try:
        text = repr(value)
    except Exception:
        text = object.__repr__(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{getattr(type(value), 'npl_name', type(value).__name__)} {text}"


def _shown_json(value: Any) -> str:
    """JSON data for an error: its JSON text, shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

"""Inputs for probing a candidate away from its examples (the behavioural
test-gaming check of filling/gaming.py).

Takes the host values an NPL function receives (str, int, float, bool,
None, list, tuple, dict, set, NumPy arrays, struct instances) with their
NPL types, and gives back:

  * `neighbours(value, t)`: values one small edit away from `value`: a
    character replaced by the next one of its class (letter, digit) or by
    another character of the same string, deleted, doubled, or swapped
    with its neighbour; a number changed by one unit; a bool flipped; one
    element, entry or field edited the same way; one element dropped or
    doubled. Edits sit at a few positions spread over the value (its ends
    and middle).
  * `Generator(...).value(t, seeds)`: a new value of type `t` shaped like
    the `seeds` (the example values of that type): strings over the seeds'
    characters and about as long, numbers in their range and of their
    sign, collections about their size. Bounded, so that a correct
    function is quick on them, and deterministic (a seeded random.Random).

Raises `Unsupported` for a type it cannot make values of (a function).
"""
from __future__ import annotations

import random
from collections import Counter
from typing import Any, Sequence

from npl.lang.types import (BOOL, FLOAT, INT, NONE, STR, ArrayT, CounterT, DictT, ListT, OptionalT,
                            SetT, StructT, TupleT, Type)
from npl.runtime.values import dtype_for, slot_name

POSITIONS = 4           # edit sites per string / collection
MAX_TEXT = 40           # length of a generated string
MAX_ITEMS = 10          # elements of a generated collection
MAX_SIDE = 8            # length of each dimension of a generated array
MAX_DEPTH = 4           # nesting of generated structs
SMALL_INT = 10          # generated ints are sometimes drawn from [-10, 10],
WIDE = 100              # else from [-W, W], W twice the seeds' magnitude, at least WIDE
MAX_NUMBER = 10 ** 12   # bound of generated numbers

CLASSES = (("a", "z"), ("A", "Z"), ("0", "9"))


class Unsupported(Exception):
    """A parameter type the probes cannot make values of."""


def spread(n: int, k: int) -> list[int]:
    """Up to `k` indices of range(n), evenly spread, both ends included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def unique(values: Sequence[Any], without: Any = None) -> list:
    """`values` in order, without repeats (by repr) or `without`."""
    seen, out = {repr(without)}, []
    for v in values:
        key = repr(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


# ---------------------------------------------------------------- near a value

def neighbours(value: Any, t: Type, structs: dict[str, list[tuple[str, Type]]]) -> list:
    """Values of type `t` one small edit away from `value` (see the module
    docstring), without `value` itself."""
    if t == BOOL:
        return [not value]
    if t == INT:
        return [value - 1, value + 1]
    if t == FLOAT:
        return [value - 1.0, value + 1.0]
    if t == STR:
        return text_neighbours(value)
    if t == NONE:
        return []
    if isinstance(t, OptionalT):
        return [] if value is None else neighbours(value, t.inner, structs) + [None]
    if isinstance(t, ListT):
        return unique(list_neighbours(value, t.elem, structs), value)
    if isinstance(t, TupleT):
        out = []
        for i, et in enumerate(t.elems):
            out += [value[:i] + (n,) + value[i + 1:] for n in neighbours(value[i], et, structs)[:3]]
        return out
    if isinstance(t, SetT):
        items = sorted(value, key=repr)
        out = [value - {items[i]} for i in spread(len(items), POSITIONS)]
        out += [value | {n} for i in spread(len(items), 2)
                for n in neighbours(items[i], t.elem, structs)[:1] if n not in value]
        return unique(out, value)
    if isinstance(t, CounterT):
        return [Counter(d) for d in unique(dict_neighbours(value, t, structs), value)]
    if isinstance(t, DictT):
        return unique(dict_neighbours(value, t, structs), value)
    if isinstance(t, StructT):
        return struct_neighbours(value, t, structs)
    if isinstance(t, ArrayT):
        return array_neighbours(value, t)
    raise Unsupported(f"values of type {t}")


def next_of_class(c: str) -> str:
    """The next letter or digit, wrapping within its class; other characters as they are."""
    for lo, hi in CLASSES:
        if lo <= c <= hi:
            return chr(ord(lo) + (ord(c) - ord(lo) + 1) % (ord(hi) - ord(lo) + 1))
    return c


def text_neighbours(s: str) -> list[str]:
    if not s:
        return ["a", "0"]
    alphabet = sorted(set(s))
    out = []
    for i in spread(len(s), POSITIONS):
        c = s[i]
        other = alphabet[(alphabet.index(c) + 1) % len(alphabet)]
        out += [s[:i] + next_of_class(c) + s[i + 1:], s[:i] + other + s[i + 1:], s[:i] + s[i + 1:]]
    middle = len(s) // 2
    out.append(s[:middle] + s[middle] + s[middle:])
    if len(s) > 1:
        j = max(middle - 1, 0)
        out.append(s[:j] + s[j + 1] + s[j] + s[j + 2:])
    return unique(out, s)


def list_neighbours(xs: list, elem: Type, structs) -> list:
    out = []
    for i in spread(len(xs), POSITIONS):
        out += [xs[:i] + [n] + xs[i + 1:] for n in neighbours(xs[i], elem, structs)[:2]]
        out.append(xs[:i] + xs[i + 1:])
    if xs:
        middle = len(xs) // 2
        out.append(xs[:middle] + [xs[middle]] + xs[middle:])
    return out


def dict_neighbours(d: dict, t: DictT, structs) -> list:
    keys = list(d)
    out = []
    for i in spread(len(keys), POSITIONS):
        k = keys[i]
        out += [{**d, k: n} for n in neighbours(d[k], t.value, structs)[:2]]
        out.append({key: v for key, v in d.items() if key != k})
        for n in neighbours(k, t.key, structs)[:1]:
            if n not in d:
                out.append({(n if key == k else key): v for key, v in d.items()})
    return out


def struct_neighbours(value: Any, t: StructT, structs) -> list:
    fields = structs.get(t.name)
    if fields is None:
        raise Unsupported(f"struct {t.name}")
    cls = type(value)
    current = [getattr(value, slot_name(f)) for f, _ in fields]
    out = []
    for i, (_, ft) in enumerate(fields):
        for n in neighbours(current[i], ft, structs)[:2]:
            out.append(cls(*(current[:i] + [n] + current[i + 1:])))
    return out


def array_neighbours(a: Any, t: ArrayT) -> list:
    out = []
    flat = a.reshape(-1)
    for i in spread(flat.size, POSITIONS):
        b = a.copy()
        view = b.reshape(-1)
        view[i] = (not flat[i]) if t.elem == BOOL else flat[i] + 1
        out.append(b)
    return out


# ---------------------------------------------------------------- new values of the same shape

class Generator:
    """New values shaped like the examples' (see the module docstring)."""

    def __init__(self, structs: dict[str, list[tuple[str, Type]]], classes: dict[str, type],
                 seed: int = 0):
        self.structs = structs
        self.classes = classes
        self.rnd = random.Random(seed)

    def value(self, t: Type, seeds: list, depth: int = 0) -> Any:
        rnd = self.rnd
        if t == BOOL:
            return rnd.random() < 0.5
        if t == INT:
            return self.integer(seeds)
        if t == FLOAT:
            lo, hi = number_range(seeds)
            return round(rnd.uniform(lo, hi), 2)
        if t == STR:
            alphabet = sorted(set("".join(seeds))) or list("ab1 ")
            size = rnd.randint(0, min(max((len(s) for s in seeds), default=3) + 2, MAX_TEXT))
            return "".join(rnd.choice(alphabet) for _ in range(size))
        if t == NONE:
            return None
        if isinstance(t, OptionalT):
            present = [s for s in seeds if s is not None]
            if depth > MAX_DEPTH or rnd.random() < 0.15:
                return None
            return self.value(t.inner, present, depth)
        if isinstance(t, (ListT, SetT)):
            items = [self.value(t.elem, [e for s in seeds for e in s], depth)
                     for _ in range(self.size(seeds, depth))]
            return items if isinstance(t, ListT) else set(items)
        if isinstance(t, TupleT):
            return tuple(self.value(e, [s[i] for s in seeds], depth) for i, e in enumerate(t.elems))
        if isinstance(t, DictT):
            keys = [k for s in seeds for k in s]
            values = [v for s in seeds for v in s.values()]
            d = {self.value(t.key, keys, depth): self.value(t.value, values, depth)
                 for _ in range(self.size(seeds, depth))}
            return Counter(d) if isinstance(t, CounterT) else d
        if isinstance(t, StructT):
            return self.struct(t, seeds, depth)
        if isinstance(t, ArrayT):
            return self.array(t, seeds)
        raise Unsupported(f"values of type {t}")

    def integer(self, seeds: list) -> int:
        lo, hi = number_range(seeds)
        if self.rnd.random() < 0.5:
            lo, hi = max(lo, -SMALL_INT), min(hi, SMALL_INT)
        return self.rnd.randint(int(lo), int(hi))

    def size(self, seeds: list, depth: int) -> int:
        if depth > MAX_DEPTH:
            return 0
        return self.rnd.randint(0, min(max((len(s) for s in seeds), default=3) + 2, MAX_ITEMS))

    def struct(self, t: StructT, seeds: list, depth: int) -> Any:
        fields = self.structs.get(t.name)
        cls = self.classes.get(t.name)
        if fields is None or cls is None:
            raise Unsupported(f"struct {t.name}")
        return cls(*(self.value(ft, [getattr(s, slot_name(f)) for s in seeds], depth + 1)
                     for f, ft in fields))

    def array(self, t: ArrayT, seeds: list) -> Any:
        import numpy as np
        shape = tuple(self.rnd.randint(0, min(max((s.shape[d] for s in seeds), default=3) + 1,
                                               MAX_SIDE)) for d in range(t.rank))
        count = int(np.prod(shape)) if shape else 1
        flat = [s.item() for a in seeds for s in a.reshape(-1)]
        if t.elem == BOOL:
            items = [self.rnd.random() < 0.5 for _ in range(count)]
        elif t.elem == INT:
            items = [self.integer(flat) for _ in range(count)]
        else:
            lo, hi = number_range(flat)
            items = [round(self.rnd.uniform(lo, hi), 2) for _ in range(count)]
        return np.array(items, dtype=dtype_for(t.elem)).reshape(shape)


def number_range(seeds: list) -> tuple[float, float]:
    """[lo, hi]: twice the seeds' magnitude (at least WIDE), of their sign."""
    numbers = [s for s in seeds if isinstance(s, (int, float)) and not isinstance(s, bool)]
    top = min(max([WIDE] + [2 * abs(s) for s in numbers]), MAX_NUMBER)
    if numbers and min(numbers) >= 0:
        return 0, top
    if numbers and max(numbers) <= 0:
        return -top, 0
    return -top, top

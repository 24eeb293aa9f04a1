"""Constants for the synthesizer's leaves.

Takes a task's description, its example inputs and outputs and the types in
its signature; gives back the literal constants candidate programs may use,
in priority order: a few small defaults (0, 1, 2, -1, "", " "), then what the
description names (quoted strings, numbers, number words such as "twice",
character names such as "comma" or "hyphen"), then what the examples show
(separator runs common to every output, characters every input has and no
output keeps, a prefix or suffix every output shares but no input
contains, such as "Dr. ").
"""
from __future__ import annotations

import os
import re
from collections import Counter
from typing import Iterable

from npl.lang.types import BOOL, FLOAT, INT, NONE, STR, OptionalT, Type

BASE_INTS = (0, 1, 2, -1)
BASE_STRS = ("", " ")
MAX_MINED_STRS = 8
MAX_MINED_NUMBERS = 4

CHAR_NAMES = {           # a name, or its plural with an "s", in the description
    "comma": ",", "space": " ", "dash": "-", "hyphen": "-", "underscore": "_",
    "dot": ".", "period": ".", "full stop": ".", "slash": "/", "backslash": "\\",
    "colon": ":", "semicolon": ";", "at sign": "@", "pipe": "|", "newline": "\n",
    "tab": "\t", "hash": "#", "asterisk": "*", "star": "*", "plus sign": "+",
    "equals sign": "=", "question mark": "?", "exclamation mark": "!",
    "vowel": "aeiou", "digit": "0123456789",
}
NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twice": 2,
    "double": 2, "triple": 3, "thrice": 3, "half": 2, "hundred": 100,
}
FLOAT_WORDS = re.compile(r"\b(average|mean|divid\w*|ratio|half|percent\w*|fraction|"
                         r"decimal|float)\b", re.IGNORECASE)

_QUOTED = re.compile(r"""(?<!\w)(?:"([^"\n]*)"|'([^'\n]*)'|`([^`\n]*)`)(?!\w)""")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def wants_floats(description: str) -> bool:
    return bool(FLOAT_WORDS.search(description))


def constants(description: str, inputs: list[tuple], outputs: list,
              signature_types: set[Type], ret: Type, *, floats: bool
              ) -> list[tuple[object, Type]]:
    """(value, type) pairs for the synthesizer's constant leaves."""
    ints, float_consts = _numbers(description)
    found: list[tuple[object, Type]] = [(v, INT) for v in _unique(BASE_INTS + tuple(ints))]
    if floats:
        found += [(v, FLOAT) for v in float_consts]
    if STR in signature_types:
        mined = _unique(_described_strings(description) + _example_strings(inputs, outputs))
        mined = [s for s in mined if s not in BASE_STRS][:MAX_MINED_STRS]
        found += [(s, STR) for s in BASE_STRS + tuple(mined)]
    if ret == BOOL:
        found += [(True, BOOL), (False, BOOL)]
    if isinstance(ret, OptionalT):
        found.append((None, NONE))
    return found


def _unique(values: Iterable) -> list:
    seen, out = set(), []
    for v in values:
        if (type(v), v) not in seen:
            seen.add((type(v), v))
            out.append(v)
    return out


def _numbers(description: str) -> tuple[list[int], list[float]]:
    ints: list[int] = []
    floats: list[float] = []
    text = _QUOTED.sub(" ", description)
    for match in _NUMBER.finditer(text):
        token = match.group()
        if "." in token:
            floats.append(float(token))
        elif abs(int(token)) < 10 ** 9:
            ints.append(int(token))
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in NUMBER_WORDS:
            ints.append(NUMBER_WORDS[word])
    return _unique(ints)[:MAX_MINED_NUMBERS], _unique(floats)[:MAX_MINED_NUMBERS]


def _described_strings(description: str) -> list[str]:
    out = [next(g for g in m.groups() if g is not None)
           for m in _QUOTED.finditer(description)]
    lowered = description.lower()
    for name, char in CHAR_NAMES.items():
        if re.search(rf"\b{re.escape(name)}(e?s)?\b", lowered):
            out.append(char)
    return out


def _strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for v in value for s in _strings_in(v)]
    if isinstance(value, dict):
        return _strings_in(list(value)) + _strings_in(list(value.values()))
    return []


def _example_strings(inputs: list[tuple], outputs: list) -> list[str]:
    ins = [_strings_in(list(args)) for args in inputs]
    outs = [_strings_in(out) for out in outputs]
    if not any(outs):
        return []
    found = _affixes(ins, outs)
    found += _separator_runs(outs)
    found += _dropped_chars(ins, outs)
    return found


def _by_frequency(found: list[set[str]]) -> list[str]:
    """Strings found in any example, those found in more examples first."""
    counts = Counter(x for group in found for x in group)
    return sorted(counts, key=lambda x: (-counts[x], -len(x), x))


def _separator_runs(outs: list[list[str]]) -> list[str]:
    """Runs of non-alphanumeric characters in the outputs."""
    return _by_frequency([{r for s in strings for r in re.findall(r"[^A-Za-z0-9]+", s)}
                          for strings in outs])


def _dropped_chars(ins: list[list[str]], outs: list[list[str]]) -> list[str]:
    """Punctuation an input has and its output does not keep; if every
    dropped character is a digit, the string of all digits."""
    dropped = []
    for in_strings, out_strings in zip(ins, outs):
        in_chars = {c for s in in_strings for c in s}
        out_chars = {c for s in out_strings for c in s}
        dropped.append(in_chars - out_chars)
    every = set().union(*dropped)
    found = _by_frequency([{c for c in group if not c.isalnum()} for group in dropped])
    if every and all(c.isdigit() for c in every):
        found.append("0123456789")
    return found


def _affixes(ins: list[list[str]], outs: list[list[str]]) -> list[str]:
    """A prefix / suffix shared by every output string and absent from
    every input, cut at a word boundary so it does not overfit."""
    strings = [s for group in outs for s in group]
    if len(strings) < 2:
        return []
    inputs = [s for group in ins for s in group]
    prefix = os.path.commonprefix(strings)
    suffix = os.path.commonprefix([s[::-1] for s in strings])[::-1]
    prefix = _cut(prefix, from_end=True)
    suffix = _cut(suffix, from_end=False)
    return [a for a in (prefix, suffix)
            if a and len(a) <= 12 and not any(a in s for s in inputs)]


def _cut(affix: str, *, from_end: bool) -> str:
    """Drop a partial word at the open end of a prefix (or suffix)."""
    if not affix or affix.isalnum():
        return affix
    if from_end:
        return affix.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    return affix.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

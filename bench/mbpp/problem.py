"""One benchmark problem and the texts made from it.

A `Problem` is an MBPP task as convert.py keeps it: the function's name,
its task text, NPL-typed parameters and return type, and its tests
(arguments, expected value) as Python values. From it:

    program_text(p, tests)   the NPL program: a function hole whose docstring
                             is the task text, and `tests` as `example` lines
    python_signature(p)      the same signature written in Python
    encode / decode          Python values <-> JSON (tuples, sets and dicts
                             with any keys survive the trip)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Test = tuple[list, Any]          # (arguments, expected result)


@dataclass
class Problem:
    task_id: int
    name: str
    description: str
    params: list[tuple[str, str]]        # (name, NPL type)
    returns: str                         # NPL type
    tests: list[Test]

    @property
    def shown(self) -> list[Test]:
        """The test the model sees (as an example): the first."""
        return self.tests[:1]

    @property
    def hidden(self) -> list[Test]:
        return self.tests[1:]

    def to_json(self) -> dict:
        return {"task_id": self.task_id, "name": self.name, "description": self.description,
                "params": [list(p) for p in self.params], "returns": self.returns,
                "tests": [[encode(args), encode(expected)] for args, expected in self.tests]}

    @classmethod
    def from_json(cls, data: dict) -> "Problem":
        return cls(data["task_id"], data["name"], data["description"],
                   [tuple(p) for p in data["params"]], data["returns"],
                   [(decode(args), decode(expected)) for args, expected in data["tests"]])


def encode(value: Any) -> Any:
    """A Python value as JSON data: tuples, sets and dicts are tagged."""
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"set": [encode(v) for v in sorted(value, key=repr)]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def decode(data: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        (tag, items), = data.items()
        if tag == "tuple":
            return tuple(decode(v) for v in items)
        if tag == "set":
            return {decode(v) for v in items}
        return {decode(k): decode(v) for k, v in items}
    return data


def literal(value: Any) -> str:
    """A Python value written as an NPL (and Python) literal."""
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(literal(v) for v in sorted(value, key=repr)) + "}" if value else "set()"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def call_text(p: Problem, args: list) -> str:
    return f"{p.name}({', '.join(literal(a) for a in args)})"


def docstring(text: str) -> str:
    """`text` as the body of a triple-quoted string."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def program_text(p: Problem, tests: list[Test]) -> str:
    """The NPL program: the function hole, then `tests` as examples."""
    params = ", ".join(f"{name}: {t}" for name, t in p.params)
    lines = [f"def {p.name}({params}) -> {p.returns}:", f'    """{docstring(p.description)}"""',
             "    ...", ""]
    lines += [f"example {call_text(p, args)} == {literal(expected)}" for args, expected in tests]
    return "\n".join(lines) + "\n"


def python_type(npl: str) -> str:
    """An NPL type written as a Python annotation (`T | None` is Python too)."""
    return re.sub(r"\s+", " ", npl)


def python_signature(p: Problem) -> str:
    params = ", ".join(f"{name}: {python_type(t)}" for name, t in p.params)
    return f"def {p.name}({params}) -> {python_type(p.returns)}:"

"""Data in a program compiles in about a second (red team: a 400,000-element
list literal took 19 s and 500 MB).

Constant displays are read by lang/data_literals.py in one pass instead of
token by token through the LALR parser, walked without recursion, and
emitted by the code generator as one constant. These tests check that the
fast path builds exactly the AST the parser builds (nodes and spans), that
everything else still goes through the parser (and its diagnostics), and
that a big display compiles fast and runs right.
"""
from __future__ import annotations

import ast as pyast
import dataclasses
import random
import subprocess
import time

import pytest

import npl
import npl.lang.data_literals as data_literals
from npl.compiler.driver import compile
from npl.lang.diagnostics import CompileError
from npl.lang.parser import parse

from conftest import npl_command


def dump(node):
    """A node as nested tuples, spans included."""
    if isinstance(node, tuple):
        return tuple(dump(x) for x in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__, getattr(node, "span", None),
                tuple((f.name, dump(getattr(node, f.name))) for f in dataclasses.fields(node)
                      if f.name != "span"))
    return node


def parsed(source: str, minimum: int):
    """The AST (or the error text) with the fast path taken from `minimum`
    constants on (1: always, a huge number: never)."""
    saved = data_literals.DATA_MIN
    data_literals.DATA_MIN = minimum
    try:
        return dump(parse(source, "data.npl"))
    except CompileError as err:
        return ("error", err.render())
    finally:
        data_literals.DATA_MIN = saved


DISPLAYS = [
    "[1, -2, - 7, 3.5, 'a' \"b\", True, None, (1,), (2), {1: 'x', 2: 'y'}, {3, 4,}, [], (), {}]",
    "[0x1F, 1_000, r'\\n', -0.5e3, [[1, 2], [3, 4]],\n  # a comment\n  7, 'multi\\\nline']",
    "['''tri\nple''', 0, 1 ,\n 2\n ,3, -\n4, (5, 6,),]",
    "{1: 2, 'a': -3.5, True: None, \"q\": 'z',}",
    "{'a': [1, 2, 3], 'b': (4, 5)}",
    "{1, 2, 3}", "(1)", "(1,)", "('a' 'b', \"\"\"x\"\"\", '''y''', \"\", '', \"\\t\")",
    "[1.e5, .5, 1e3, 00.5, 1., 12345678901234567890123]",
    "[(1, 'a'), (2, 'b'), [3, 4.5], {'k': (1,)}]", "[[[[1]]], [[2, 3]]]",
    "[1 , 2 ,\n 3 # c\n , 4]", "[1,\\\n 2]", "{'a':1,'b':2}",
    # not data, or data with a problem: the parser reads (and reports) it
    "{1: 2, 3}", "{1, 2: 3}", "[1, 2)", "[00, 1]", "[1j, 2]", "[1 if True else 2, 3]",
    "[x, 1]", "[-True, 1]", "['\\q', 1]", "[b'x', 1]", "[f'x', 1]", "[1,,2]", "[,]",
    "{:}", "[1, 2] [0]", "[1, 2][0]", "[Truex, None]", "[None, Nonesuch]", "[1, 2",
]


@pytest.mark.parametrize("display", DISPLAYS)
def test_fast_path_builds_the_parsers_ast(display):
    source = f"const X = {display}\n\ndef f() -> int:\n    return len([\n        1, 2])\n"
    assert parsed(source, 1) == parsed(source, 10 ** 9)


def test_small_displays_and_subscripts_stay_with_the_parser(monkeypatch):
    taken = []
    original = data_literals.read_data

    def spy(scanner, start, depth):
        found = original(scanner, start, depth)
        taken.append(found is not None)
        return found
    monkeypatch.setattr(data_literals, "read_data", spy)
    source = ("def f(x: list[int]) -> int:\n    return x[0] + len([1, 2, 3])\n\n"
              "const BIG = [" + ", ".join(map(str, range(100))) + "]\n")
    parse(source, "p.npl")
    assert taken == [False, True]          # the small list, then BIG (x[0] is no display)


def big_list_program(n: int) -> tuple[str, list[int]]:
    rng = random.Random(7)
    values = [rng.randint(-9, 99) for _ in range(n)]
    text = ", ".join(map(str, values))
    return f"const XS = [{text}]\n\ndef main():\n    print(len(XS), sum(XS))\n", values


def test_a_big_list_compiles_fast_and_runs(tmp_path):
    source, values = big_list_program(200_000)
    start = time.process_time()
    comp = compile(source, str(tmp_path / "big.npl"))
    seconds = time.process_time() - start
    assert seconds < 10, f"{seconds:.1f} s of CPU to compile 200,000 numbers"   # was ~20 s
    from npl.runtime.codegen import compile_module
    tree = compile_module(comp.module)[1].build()
    constants = [n for n in pyast.walk(tree) if isinstance(n, pyast.Constant)
                 and isinstance(n.value, tuple) and len(n.value) == len(values)]
    assert constants, "the list should be emitted as one constant tuple"
    path = tmp_path / "big.npl"
    path.write_text(source)
    r = subprocess.run(npl_command() + ["run", str(path)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{len(values)} {sum(values)}\n"


def test_data_shapes_keep_their_values():
    rows = ", ".join(f'({i}, "w{i}", {i / 4}, {str(i % 2 == 0)})' for i in range(40))
    table = ", ".join(f'"k{i}": {-i}' for i in range(40))
    numbers = ", ".join(str(i) for i in range(40))
    source = (f"const ROWS = [{rows}]\nconst TABLE = {{{table}}}\nconst SEEN = {{{numbers}}}\n"
              "def rows() -> list[tuple[int, str, float, bool]]:\n    return ROWS\n"
              "def table() -> dict[str, int]:\n    return TABLE\n"
              "def seen() -> set[int]:\n    return SEEN\n")
    program = npl.compile_source(source, "shapes.npl")
    assert program.call("rows") == [(i, f"w{i}", i / 4, i % 2 == 0) for i in range(40)]
    assert program.call("table") == {f"k{i}": -i for i in range(40)}
    assert program.call("seen") == set(range(40))


def test_nesting_limits_still_hold_for_data():
    deep = "[" * 150 + ", ".join("1" for _ in range(20)) + "]" * 150
    with pytest.raises(CompileError) as err:
        parse(f"const X = {'-' * 120}{deep}\n", "deep.npl")
    assert "nested too deeply" in err.value.render()

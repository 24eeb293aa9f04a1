"""Tuple targets beyond flat names (docs/reference.md §4): items, fields and nested tuples
in assignments (`xs[i], xs[j] = xs[j], xs[i]`), nested tuples in `for`
loops and comprehensions (`for i, (a, b) in enumerate(ps)`).

Tested here: the checker's diagnostics (lang/check_stmts.py), the IR that
compiler/lower.py builds for them, and that kernels using them still
compile with Numba. What the programs print, against Python's semantics,
is tests/spec/statements/swap.npl and nested_unpacking.npl."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from npl.compiler.driver import compile
from npl.compiler.irprint import print_module
from npl.lang.diagnostics import CompileError


def program(body: str, decls: str = "") -> str:
    return textwrap.dedent(decls) + "def main():\n" + textwrap.indent(textwrap.dedent(body), "    ")


def ir_of_main(body: str, decls: str = "") -> list[str]:
    """The statements of main's IR, one per line, without their locations."""
    text = print_module(compile(program(body, decls), "t.npl").module)
    lines = text[text.index("def main"):].splitlines()[2:]      # after the header and locals
    return [re.sub(r"\s+# t\.npl:\d+$", "", line)[4:] for line in lines if line.strip()]


def errors(body: str, decls: str = "") -> list[tuple[str, int, int, str]]:
    with pytest.raises(CompileError) as info:
        compile(program(body, decls), "t.npl")
    return [(d.code, d.span.line, d.span.col, d.message) for d in info.value.diagnostics]


STRUCT = """\
struct P:
    x: float
    y: float

"""


# ------------------------------------------------------------ checking

def test_item_and_field_targets_are_checked_like_single_assignments():
    assert errors("""\
        xs = [1, 2]
        p = P(0.0, 0.0)
        xs[0], n = "a", 1
        p.x, p.y = 1.5, "b"
        s = "ab"
        s[0], s[1] = s[1], s[0]
        """, STRUCT) == [
        ("E012", 8, 5, "this item is int, cannot assign str"),
        ("E012", 9, 10, "field 'y' is float, cannot assign str"),
        ("E012", 11, 5, "str is immutable: build a new string instead (s[:i] + c + s[i + 1:])"),
        ("E012", 11, 11, "str is immutable: build a new string instead (s[:i] + c + s[i + 1:])"),
    ]


def test_int_widens_into_float_items_and_fields():
    lines = ir_of_main("""\
        p = P(0.0, 0.0)
        fs = [0.5]
        p.x, fs[0] = 1, 2
        """, STRUCT)
    assert lines[-3:] == [
        "_tmp1 = (tuple-lit:tuple[int, int] 1:int 2:int)",
        "(p:P).x = (getitem:int _tmp1:tuple[int, int] 0:int)",
        "(fs:list[float])[0:int] = (getitem:int _tmp1:tuple[int, int] 1:int)",
    ]


def test_arity_and_shape_errors_name_the_target_that_does_not_fit():
    assert errors("""\
        xs = [1, 2]
        a, xs[0] = 1, 2, 3
        pairs = [(1.0, 2.0)]
        for i, (a, b, c) in enumerate(pairs):
            pass
        for j, (d, e) in enumerate(xs):
            pass
        """) == [
        ("E012", 3, 16, "cannot unpack tuple[int, int, int] into 2 targets"),
        ("E012", 5, 12, "cannot unpack tuple[float, float] into 3 names"),
        ("E012", 7, 12, "only a tuple can be unpacked, not int"),
    ]


def test_nested_names_are_checked_against_their_declarations():
    assert errors("""\
        a = "text"
        (a, b), c = (1, 2), 3
        """) == [("E012", 3, 6, "'a' is str, cannot assign int")]


def test_a_field_stored_by_unpacking_is_narrowed_like_a_single_assignment():
    # storing a Node narrows `a.next`; storing None (later) ends that
    assert errors("""\
        a = Node(1, None)
        a.next, n = Node(2, None), 0
        print(a.next.val)
        a.next, n = None, 1
        print(a.next.val)
        """, "struct Node:\n    val: int\n    next: Node | None\n\n") == [
        ("E012", 10, 11, "'val' of a value that may be None")]


# ------------------------------------------------------------ lowering

def test_swap_evaluates_the_right_side_into_a_temporary_first():
    assert ir_of_main("""\
        xs = [1, 2]
        i = 0
        xs[i], xs[i + 1] = xs[i + 1], xs[i]
        """)[2:] == [
        "_tmp1 = (tuple-lit:tuple[int, int] (getitem:int xs:list[int] (add:int i:int 1:int)) "
        "(getitem:int xs:list[int] i:int))",
        "(xs:list[int])[i:int] = (getitem:int _tmp1:tuple[int, int] 0:int)",
        "(xs:list[int])[(add:int i:int 1:int)] = (getitem:int _tmp1:tuple[int, int] 1:int)",
    ]


def test_a_tuple_local_on_the_right_is_copied_before_a_target_rebinds_it():
    # `t, xs[0] = t` must store the old t[1], not the new t's
    assert ir_of_main("""\
        t = (1, 2)
        xs = [0]
        u, xs[0] = t
        """)[2:] == [
        "_tmp1 = t:tuple[int, int]",
        "u = (getitem:int _tmp1:tuple[int, int] 0:int)",
        "(xs:list[int])[0:int] = (getitem:int _tmp1:tuple[int, int] 1:int)",
    ]


def test_flat_name_targets_stay_one_unpack():
    assert ir_of_main("a, b = 1, 2\n") == ["a, b = (tuple-lit:tuple[int, int] 1:int 2:int)"]


def test_nested_names_unpack_through_temporaries():
    assert ir_of_main("(a, (b, c)), d = (1, (2, 3)), 4\n") == [
        "_tmp1, d = (tuple-lit:tuple[tuple[int, tuple[int, int]], int] "
        "(tuple-lit:tuple[int, tuple[int, int]] 1:int (tuple-lit:tuple[int, int] 2:int 3:int)) 4:int)",
        "a, _tmp2 = _tmp1:tuple[int, tuple[int, int]]",
        "b, c = _tmp2:tuple[int, int]",
    ]


def test_a_name_bound_twice_keeps_its_last_value():
    # Python stores x = 1, y = 2, then x = 3; the first store is dead
    assert ir_of_main("(x, y), x = (1, 2), 3\n")[1:] == ["_tmp1, y = _tmp2:tuple[int, int]"]


def test_nested_loop_targets_unpack_at_the_start_of_each_pass():
    assert ir_of_main("""\
        ps = [(1, 2)]
        for i, (a, b) in enumerate(ps):
            print(a)
        """)[1:] == [
        "for (i, _tmp1) in (enumerate:iterator[tuple[int, tuple[int, int]]] ps:list[tuple[int, int]]):",
        "    a, b = _tmp1:tuple[int, int]",
        "    (print:None a:int)",
    ]


def test_nested_comprehension_targets_become_a_one_element_clause():
    (line,) = ir_of_main("ys = [a for i, (a, b) in enumerate([(1, 2)]) if b > i]\n")
    assert "[for (i, _tmp1) in (enumerate:" in line
    assert "[for (a, b) in (list-lit:list[tuple[int, int]] _tmp1:tuple[int, int]) " \
           "if (compare:bool b:int gt i:int)]" in line


def test_comprehension_temporaries_avoid_every_name_the_comprehension_uses():
    # the outer comprehension's `_tmp1` is no function local, yet the inner
    # comprehension reads it: the inner one's temporary must not shadow it
    (line,) = ir_of_main("ys = [[a + _tmp1 for (a, b), c in [((1, 2), 3)]] for _tmp1 in range(2)]\n")
    assert "(add:int a:int _tmp1:int) [for (_tmp2, c) in" in line
    assert "[for (a, b) in (list-lit:list[tuple[int, int]] _tmp2:tuple[int, int])]" in line


# ------------------------------------------------------------ kernels

KERNELS = """\
@kernel
def bubble(a: array[float]) -> array[float]:
    n = len(a)
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
    return a

@kernel
def transpose(m: array[int, 2]) -> array[int, 2]:
    for i in range(len(m)):
        for j in range(i + 1, len(m)):
            m[i, j], m[j, i] = m[j, i], m[i, j]
    return m

@kernel
def fib(n: int) -> int:
    (a, b), k = (0, 1), 0
    while k < n:
        a, b = b, a + b
        k += 1
    return a
"""


def test_kernels_with_swaps_and_nested_targets_compile_natively(monkeypatch):
    from npl.runtime.loader import load_compilation
    monkeypatch.setenv("NPL_JIT", "eager")
    comp = compile(KERNELS, "k.npl")
    prog = load_compilation(comp)
    assert prog.jit is not None and not prog.jit.failed
    assert {"bubble", "transpose", "fib"} <= set(prog.jit.native)
    assert list(prog.call("bubble", np.array([3.0, 1.0, 2.0, -5.0]))) == [-5.0, 1.0, 2.0, 3.0]
    assert prog.call("transpose", np.array([[1, 2], [3, 4]])).tolist() == [[1, 3], [2, 4]]
    assert prog.call("fib", 50) == 12586269025

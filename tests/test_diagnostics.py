"""Source lines quoted under diagnostics (lang/diagnostics.py) and run-time
stack traces (runtime/errors.py) are the lines the lexer counted.

The lexer, like Python's tokenizer, ends a line only at LF, CR LF or CR.
str.splitlines() also breaks at VT, FF, FS, GS, RS, NEL, U+2028 and U+2029,
all of which may stand in an NPL file (in a string or a comment; FF in
indentation too), so splitting with it quotes a later line than the span's."""
from __future__ import annotations

import pytest

from npl.lang.diagnostics import CompileError, Diagnostic, source_line, split_lines
from npl.lang.ast import Span
from npl.lang.parser import parse
from npl.runtime.errors import Frame, NplRuntimeError

NOT_LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_LINE_BREAKS])
def test_only_lf_crlf_and_cr_end_a_line(char):
    text = f"one\n# a{char}b\nthree\r\nfour\rfive\n"
    assert split_lines(text) == ["one", f"# a{char}b", "three", "four", "five"]
    assert source_line(text, 3) == "three" and source_line(text, 5) == "five"
    assert source_line(text, 6) is None and source_line(text, 0) is None


def test_split_lines_agrees_with_splitlines_on_ordinary_text():
    for text in ["", "\n", "a", "a\n", "a\n\nb", "a\r\nb\r\n", "a\rb\r\r"]:
        assert split_lines(text) == text.splitlines(), text


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_LINE_BREAKS])
def test_a_parse_error_quotes_its_own_line(char):
    text = f'def f():\n    s = "a{char}b"  # c{char}d\n    x = )\n'
    with pytest.raises(CompileError) as info:
        parse(text, "t.npl")
    (d,) = info.value.diagnostics
    assert (d.span.line, d.span.col) == (3, 9)
    assert d.render(text).splitlines()[1:3] == ["        x = )", "            ^"]


def test_a_form_feed_in_indentation_does_not_shift_later_lines():
    text = "def f():\n\x0c    x = 1\n    y = )\n"
    with pytest.raises(CompileError) as info:
        parse(text, "t.npl")
    (d,) = info.value.diagnostics
    assert d.span.line == 3 and "        y = )" in info.value.render()


def test_a_diagnostic_beyond_the_text_renders_without_a_source_line():
    d = Diagnostic("E001", "x", Span("t.npl", 3, 1, 3, 2))
    assert d.render("a\u2028b\nc\n") == "t.npl:3:1: error[E001]: x"


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_LINE_BREAKS])
def test_a_runtime_trace_quotes_its_own_line(char):
    text = f'def main():\n    s = "a{char}b"\n    xs = [1]\n    print(xs[5])\n'
    err = NplRuntimeError("index", "list index out of range", [Frame("main", "p.npl", 4)])
    err.with_sources({"p.npl": text})
    assert err.frames[0].text == "print(xs[5])"


# ---------------------------------------------------------------- fixes

from npl.lang.diagnostics import Fix, apply_fixes  # noqa: E402


def _checked(source: str) -> list[Diagnostic]:
    from npl.compiler.driver import compile
    with pytest.raises(CompileError) as info:
        compile(source, "f.npl")
    return info.value.diagnostics


def _fixed(source: str) -> tuple[str, list[str]]:
    return apply_fixes(source, _checked(source), "f.npl")


def test_a_float_where_an_int_is_expected_has_an_int_wrap_as_its_fix():
    source = ("def volume(l: int, b: int, h: int) -> int:\n"
              "    return (l * b * h) / 2\n")
    [d] = _checked(source)
    assert d.code == "E012" and d.fix == Fix.wrap(d.span, "int(", ")")
    fixed, described = apply_fixes(source, [d], "f.npl")
    assert fixed.splitlines()[1] == "    return int((l * b * h) / 2)"
    assert described == ["(l * b * h) / 2 -> int((l * b * h) / 2)"]


def test_tuple_of_floats_fixes_the_element_not_the_call():
    fixed, _ = _fixed("def div(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:\n"
                      "    return tuple(x / y for x, y in zip(a, b))\n")
    assert "tuple(int(x / y) for x, y in zip(a, b))" in fixed


def test_a_variable_given_another_type_is_a_new_variable_from_there_on():
    """`s = list(s)` in the function's own body: Python's reading is a new
    variable from that statement on, which the fix names."""
    source = ("def rev(s: str) -> str:\n"
              "    s = list(s)\n"
              "    s.reverse()\n"
              "    t = [c for c in s if c != 'x']\n"
              "    return ''.join(t) + str(len(s))\n")
    fixed, described = _fixed(source)
    assert fixed.splitlines()[1:] == ["    s_list = list(s)", "    s_list.reverse()",
                                      "    t = [c for c in s_list if c != 'x']",
                                      "    return ''.join(t) + str(len(s_list))"]
    assert described == ["'s' from line 2 on is a new variable 's_list' (list[str])"]
    from npl.compiler.driver import compile
    compile(fixed, "f.npl")


def test_the_new_name_is_one_the_function_does_not_use():
    fixed, _ = _fixed("def f(s: str) -> int:\n    s_list = 1\n    s = list(s)\n"
                      "    return len(s) + s_list\n")
    assert "s_list2 = list(s)" in fixed and "len(s_list2) + s_list" in fixed


def test_no_renaming_inside_a_branch_or_loop_or_across_a_lambda_parameter():
    """Inside a branch the old value may still flow on; a later lambda with
    a parameter of that name would be renamed only in its body."""
    for source in ("def f(s: str) -> int:\n    if s:\n        s = list(s)\n    return len(s)\n",
                   "def f(s: str) -> int:\n    for i in range(2):\n        s = list(s)\n"
                   "    return len(s)\n",
                   "def f(s: str, xs: list[str]) -> str:\n    s = len(s)\n"
                   "    return max(xs, key=lambda s: len(s)) * s\n"):
        assert all(d.fix is None for d in _checked(source)), source


def test_a_rebinding_to_float_becomes_a_float_variable_then_an_int_where_one_is_returned():
    from npl.compiler.driver import compile
    source = "def half(n: int) -> int:\n    n = n / 2\n    return n\n"
    first, _ = _fixed(source)
    assert first.splitlines()[1:] == ["    n_float = n / 2", "    return n_float"]
    second, described = apply_fixes(first, _checked(first), "f.npl")
    assert second.splitlines()[2] == "    return int(n_float)"
    compile(second, "f.npl")


def test_fixes_skip_errors_without_one_and_other_files_and_text_beyond():
    span = Span("f.npl", 1, 8, 1, 9)
    fixable = Diagnostic("E012", "expected int, found float", span, fix=Fix.wrap(span, "int(", ")"))
    other = Diagnostic("E010", "undefined name 'q'", Span("f.npl", 1, 1, 1, 2))
    assert apply_fixes("return x\n", [fixable], "f.npl") == ("return int(x)\n", ["x -> int(x)"])
    assert apply_fixes("return x\n", [fixable, other], "f.npl")[0] == "return int(x)\n"
    assert apply_fixes("return x\n", [other], "f.npl") is None
    assert apply_fixes("return x\n", [fixable], "g.npl") is None
    far = Span("f.npl", 3, 1, 3, 2)
    beyond = Diagnostic("E012", "m", far, fix=Fix.wrap(far, "int(", ")"))
    assert apply_fixes("return x\n", [beyond], "f.npl") is None


def test_several_fixes_on_one_line_each_wrap_their_own_span():
    a, b = Span("f.npl", 1, 3, 1, 4), Span("f.npl", 1, 6, 1, 11)
    first = Diagnostic("E012", "m", a, fix=Fix.wrap(a, "int(", ")"))
    second = Diagnostic("E012", "m", b, fix=Fix.wrap(b, "int(", ")"))
    fixed, _ = apply_fixes("f(a, b / c)\n", [second, first], "f.npl")
    assert fixed == "f(int(a), int(b / c))\n"

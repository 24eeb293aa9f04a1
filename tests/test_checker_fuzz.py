"""Robustness of the front end: whatever text goes in, parse + check + lower
(npl.compiler.driver.compile) either gives a compiled program or raises a
CompileError whose diagnostics point into the source, never another
exception (an IndexError in the checker, an InternalCompilerError from the
IR verifier, a RecursionError in the parser...).

Inputs: random text over NPL's characters, random sequences of NPL tokens,
and the spec programs (tests/spec) with random mutations. Hypothesis runs
derandomized (tests/conftest.py), with a few hundred cases in total.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npl.compiler.driver import Compilation, compile
from npl.lang.diagnostics import CODES, CompileError

SPEC = Path(__file__).resolve().parent / "spec"
SOURCES = [p.read_text(encoding="utf-8") for p in sorted(SPEC.rglob("*.npl"))]
PATH = "fuzz.npl"

KEYWORDS = ("def struct const example property where extern from import if elif else while for "
            "in not and or is return break continue pass assert lambda True False None kernel "
            "prange range len print int float str bool list dict set tuple array").split()
TOKENS = KEYWORDS + [
    "x", "y", "xs", "main", "Point", "0", "1", "-1", "2.5", "1e3", "0x1f", "'a'", '"s"', 'f"{x}"',
    '"""doc"""', "+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "=", "+=",
    "->", ":", ",", ".", "(", ")", "[", "]", "{", "}", "|", "&", "^", "@", "?{", "?{ the text }",
    "...", "#", "\n", "\n    ", "\n        ", "    ", " ",
]


def no_file(path: str):
    raise FileNotFoundError(path)


def compile_outcome(source: str) -> None:
    """Compile `source`; the only acceptable outcomes are a lowered module or
    a CompileError with well-formed diagnostics."""
    try:
        result = compile(source, PATH, loader=no_file, strict_fills=False)
    except CompileError as err:
        assert err.diagnostics, "a CompileError without diagnostics"
        for d in err.diagnostics:
            check_diagnostic(d, err.sources.get(d.span.file, source if d.span.file == PATH else None))
        return
    assert isinstance(result, Compilation) and result.module is not None


def check_diagnostic(d, text) -> None:
    assert d.code in CODES, d
    assert d.message.strip(), d
    span = d.span
    assert span.file == PATH or span.file.startswith(PATH + ".lock#"), d
    lines = re.split(r"\r\n|\r|\n", text or "")      # the lexer's line ends
    assert 1 <= span.line <= len(lines) + 1, f"line out of range: {d}"
    assert span.col >= 1, f"column out of range: {d}"
    assert (span.end_line, span.end_col) >= (span.line, span.col), f"span ends before it starts: {d}"
    if span.line <= len(lines):
        assert span.col <= len(lines[span.line - 1].expandtabs(1)) + 1, f"column past the line end: {d}"
    assert d.render(text).startswith(f"{span.file}:{span.line}:{span.col}: error[{d.code}]")


npl_chars = st.sampled_from(list("abcxyz_019 \n\t:()[]{},.+-*/%=<>!?'\"#@|&^~\\$")) | st.characters()


@settings(max_examples=150)
@given(st.text(npl_chars, max_size=120))
def test_random_text(source: str):
    compile_outcome(source)


@settings(max_examples=150)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_sequences(tokens: list[str]):
    compile_outcome(" ".join(tokens))


@st.composite
def mutated_programs(draw) -> str:
    source = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        n = len(source)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 12)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "swap_lines", "duplicate_line"]))
        if kind == "delete":
            source = source[:i] + source[j:]
        elif kind == "insert":
            source = source[:i] + draw(st.sampled_from(TOKENS)) + source[i:]
        elif kind == "replace":
            source = source[:i] + draw(st.sampled_from(TOKENS)) + source[j:]
        else:
            lines = source.split("\n")
            a = draw(st.integers(0, len(lines) - 1))
            b = draw(st.integers(0, len(lines) - 1))
            if kind == "swap_lines":
                lines[a], lines[b] = lines[b], lines[a]
            else:
                lines.insert(b, lines[a])
            source = "\n".join(lines)
    return source


@settings(max_examples=200)
@given(mutated_programs())
def test_mutated_spec_programs(source: str):
    compile_outcome(source)


def test_unmutated_spec_sources_compile_or_fail_cleanly():
    for source in SOURCES:
        compile_outcome(source)


@pytest.mark.parametrize("separator", ["\x0c", "\x1c", "\x85", "\u2028"])
def test_diagnostic_quotes_the_lexers_line(separator: str):
    """Characters that str.splitlines() breaks at but the lexer does not must
    not shift the quoted source line."""
    source = f"def main():\n    x = 1  # {separator}\n    y = undefined_name\n"
    with pytest.raises(CompileError) as info:
        compile(source, PATH, loader=no_file)
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E010", 3, 9)
    assert d.render(source).splitlines()[1:3] == ["        y = undefined_name", "            ^^^^^^^^^^^^^^"]

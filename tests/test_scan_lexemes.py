"""lang/lexer.py `scan_lexemes`: the one scanner for comments, strings and
holes that the formatter, the REPL's input reader and the model-reply reader
use; it must find what the lexer finds."""
from __future__ import annotations

from pathlib import Path

import pytest

from npl.lang.lexemes import scan_lexemes
from npl.lang.lexer import Source
from npl.lang.parser import _get_parser

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = sorted((ROOT / "examples").rglob("*.npl")) + sorted(
    (ROOT / "tests" / "jit_programs").rglob("*.npl"))


def found(text: str) -> list[tuple[str, str, bool]]:
    return [(x.kind, text[x.start:x.end], x.closed) for x in scan_lexemes(text)]


@pytest.mark.parametrize("text, expected", [
    ('x = "a#b"  # c\n', [("string", '"a#b"', True), ("comment", "# c", True)]),
    ('s = "?{not a hole}"', [("string", '"?{not a hole}"', True)]),
    ('?{sum of {a} "}" # x} y', [("hole", '?{sum of {a} "}', True),
                                ("string", '" # x} y', False)]),
    ("rb'x' + verb'y' + f\"\"\"a\n'b'\"\"\"",
     [("string", "rb'x'", True), ("string", "'y'", True), ("string", "f\"\"\"a\n'b'\"\"\"", True)]),
    ('"it\\"s"', [("string", '"it\\"s"', True)]),
])
def test_finds_comments_strings_and_holes(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text, expected", [
    ('"abc\nx', [("string", '"abc', False)]),               # a line feed ends it
    ('"ab\\\ncd\nx', [("string", '"ab\\\ncd', False)]),     # an escaped one does not
    ('"abc\\', [("string", '"abc\\', False)]),
    ("'''abc\n# no comment", [("string", "'''abc\n# no comment", False)]),
    ("?{a {b}", [("hole", "?{a {b}", False)]),
])
def test_unclosed_strings_and_holes_say_so(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_finds_exactly_the_lexers_strings_and_holes(path):
    text = path.read_text(encoding="utf-8")
    tokens = _get_parser().parse_interactive(Source(text, str(path)), start="module").exhaust_lexer()
    lexed = [(t.type, t.start_pos, t.end_pos) for t in tokens
             if t.type in ("STRING", "FSTRING", "HOLE")]
    scanned = [("HOLE" if x.kind == "hole" else "STRING", x.start, x.end)
               for x in scan_lexemes(text) if x.kind != "comment"]
    assert [(t.replace("FSTRING", "STRING"), s, e) for t, s, e in lexed] == scanned

"""Where a comment, a string literal or a hole ends: the one scanner of the
text that is not code, shared by the lexer (lang/lexer.py), the literal
readers (lang/literals.py, lang/data_literals.py) and the tools that read
source around the parser (`scan_lexemes`: npl fmt, the REPL's input reader,
the reader of model replies).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

__all__ = ["STRING_OPEN", "STRING_BODY", "hole_end", "string_end", "Lexeme", "scan_lexemes"]

# A string literal's opening: its prefix letters and quotes.
STRING_OPEN = r"(?:[rR][bBfF]?|[bBfF][rR]?|[uU])?(?:'''|\"\"\"|'|\")"
STRING_BODY = {   # the rest of a string literal, after its opening quote
    "'": re.compile(r"(?:[^'\\\n]|\\.)*'", re.S),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*"', re.S),
    "'''": re.compile(r"(?:[^'\\]|\\.|'(?!''))*'''", re.S),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.S),
}
_UNCLOSED_LINE = re.compile(r"(?:[^\\\n]|\\.)*", re.S)     # up to an unescaped line feed
_LEXEME_RE = re.compile(r"""
  (?P<comment>\#[^\n]*)
| (?P<string>""" + STRING_OPEN + r""")
| (?P<name>[^\W\d]\w*)
| (?P<hole>\?\{)
""", re.VERBOSE)
_BRACE = re.compile(r"[{}]")


def hole_end(text: str, start: int) -> Optional[int]:
    """The offset just after the `}` that closes the hole whose `?{` is at
    `start` (braces inside it balance), or None if it is never closed."""
    depth = 0
    for brace in _BRACE.finditer(text, start + 1):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return brace.end()
    return None


def string_end(text: str, opening: re.Match) -> tuple[int, bool]:
    """(end, closed) of the string literal whose opening (prefix letters and
    quotes) `opening` matched: the offset just after its closing quotes, or,
    when it is never closed, that of the line feed that ends it (a
    one-line string; an escaped line feed does not end it) or of the text
    (a triple-quoted string)."""
    quote = opening.group().lstrip("rRbBfFuU")
    body = STRING_BODY[quote].match(text, opening.end())
    if body is not None:
        return body.end(), True
    if len(quote) == 3:
        return len(text), False
    end = _UNCLOSED_LINE.match(text, opening.end()).end()
    return (end if text.startswith("\n", end) else len(text)), False   # or a final `\\`


@dataclass(frozen=True)
class Lexeme:
    """A stretch of source text whose characters are not code: a comment, a
    string literal or a hole. `closed` is False for a string or hole that is
    never closed (it then runs as `string_end` says, a hole to the end)."""
    kind: str                   # "comment" | "string" | "hole"
    start: int
    end: int
    closed: bool = True


def scan_lexemes(text: str):
    """The comments, string literals and holes of `text` in order, found as
    the lexer finds them (a `#` or quote inside a string or hole starts
    nothing, nor does a `?{` inside a string); text that is not valid NPL
    still scans. For tools that read source text around the parser: the
    formatter, the REPL's input reader, the model-reply reader."""
    i = 0
    while (m := _LEXEME_RE.search(text, i)) is not None:
        kind, start = m.lastgroup, m.start()
        if kind == "name":          # skipped whole: the `rb` of `verb"x"` is no prefix
            i = m.end()
            continue
        if kind == "comment":
            end, closed = m.end(), True
        elif kind == "string":
            end, closed = string_end(text, m)
        else:
            end = hole_end(text, start)
            end, closed = (len(text), False) if end is None else (end, True)
        yield Lexeme(kind, start, end, closed)
        i = end

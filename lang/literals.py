"""NPL literals: token text in, Python values and AST literal nodes out.

Takes in the text of NUMBER, STRING and FSTRING tokens (lang/lexer.py has
already found where each literal ends), with the position of each token;
gives back `A.IntLit` / `A.FloatLit` (`number_literal`), `A.StrLit` /
`A.FString` (`string_literal`, one node for a run of implicitly
concatenated literals), the value of Python's escape sequences
(`unescape`) and docstring text without its indentation (`clean_docstring`).

An f-string's fields are split off here; each field's expression is handed
back to the parser through the `parse_field(text, line, col)` callback, so
that its nodes carry their real positions in the file. Problems (a bad
escape, a leading zero, a bytes literal, a malformed field) go to the
`report(code, message, span)` callback, and decoding goes on with a
placeholder value, so that one parse reports every problem.
"""
from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING, Callable, Optional

from . import ast as A
from .lexemes import hole_end

if TYPE_CHECKING:
    from lark import Token

__all__ = ["number_literal", "string_literal", "unescape", "EscapeError", "clean_docstring"]

Report = Callable[[str, str, A.Span], None]             # (code, message, span)
ParseField = Callable[[str, int, int], A.Expr]           # (text, line, col) -> expression


# ================================================================ numbers

def number_literal(text: str, span: A.Span, report: Report) -> A.Expr:
    """The IntLit or FloatLit that a NUMBER token's text stands for."""
    text = text.replace("_", "")
    if text[:2].lower() in ("0x", "0o", "0b"):
        return A.IntLit(int(text, 0), span=span)
    if any(c in text for c in ".eE"):
        return A.FloatLit(float(text), span=span)
    if text[0] == "0" and text.strip("0"):
        report("E002", f"leading zeros are not allowed in a decimal number: write "
               f"`{text.lstrip('0')}`, or `0o{text.lstrip('0')}` for octal", span)
        return A.IntLit(0, span=span)
    try:
        return A.IntLit(int(text), span=span)
    except ValueError:          # beyond Python's int-from-text digit limit
        report("E002", f"integer literal too long ({len(text)} digits)", span)
        return A.IntLit(0, span=span)


# ================================================================ strings

def string_literal(tokens, span: A.Span, report: Report, parse_field: ParseField) -> A.Expr:
    """One StrLit, or an FString if any of the (implicitly concatenated)
    STRING / FSTRING `tokens` is an f-string; `span` covers them all."""
    parts, formatted = [], False
    for token in tokens:
        lit = _Literal(token)
        if "b" in lit.prefix:
            report("E018", "bytes literals are not supported: use a `str`", A.Span(
                span.file, token.line, token.column, token.end_line, token.end_column))
        if "f" in lit.prefix:
            formatted = True
            parts += _FStringReader(lit, span.file, report, parse_field).parts()[0]
        else:
            parts.append(lit.body if "r" in lit.prefix else _decode_body(lit, span.file, report))
    merged = _merge_text(parts)
    if not formatted:
        return A.StrLit("".join(merged), span=span)
    return A.FString(tuple(merged), span=span)


def _decode_body(lit: "_Literal", path: str, report: Report) -> str:
    try:
        return unescape(lit.body)
    except EscapeError as e:
        line, col = lit.pos(e.offset)
        report("E002", e.message, A.Span(path, line, col, line, col + 2))
        return lit.body


def _merge_text(parts: list) -> list:
    """Join neighbouring literal pieces: ["a", "b", field] -> ["ab", field]."""
    merged: list = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


# ================================================================ escapes

_SIMPLE_ESCAPES = {"\n": "", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b",
                   "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(\n|[\\'\"abfnrtv]|[0-7]{1,3}|x[0-9a-fA-F]{0,2}|u[0-9a-fA-F]{0,4}"
                     r"|U[0-9a-fA-F]{0,8}|N(?:\{[^}\n]*\})?|.)", re.S)
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}


class EscapeError(Exception):
    """A bad escape in a string literal at `offset` (internal: the caller
    reports it as a diagnostic)."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset, self.message = offset, message


def unescape(body: str) -> str:
    """Python's escape sequences in the text of a (non-raw) str literal.
    Unknown escapes such as `\\q` keep their backslash, as in Python."""
    if "\\" not in body:
        return body
    return _ESCAPE.sub(_escape_value, body)


def _escape_value(m: re.Match) -> str:
    e = m.group(1)
    if e in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[e]
    if e[0] in "01234567":
        return chr(int(e, 8))
    if e[0] in _HEX_DIGITS:
        need = _HEX_DIGITS[e[0]]
        if len(e) - 1 != need:
            raise EscapeError(m.start(), f"truncated `\\{e[0]}` escape: it takes {need} "
                              "hex digits")
        if int(e[1:], 16) > 0x10FFFF:
            raise EscapeError(m.start(), f"`\\{e}` is not a Unicode character")
        return chr(int(e[1:], 16))
    if e[0] == "N":
        if len(e) == 1:
            raise EscapeError(m.start(), "malformed `\\N` escape: write `\\N{CHARACTER NAME}`")
        import unicodedata
        try:
            return unicodedata.lookup(e[2:-1])
        except KeyError:
            raise EscapeError(m.start(), f"unknown Unicode character name `{e[2:-1]}`") from None
    return m.group(0)


class _Literal:
    """One string token split into prefix, quote and body, with the file
    position of every body offset."""

    def __init__(self, token: "Token"):
        text = token.value
        prefix = re.match(r"[a-zA-Z]*", text).group()
        quote = 3 if text[len(prefix):len(prefix) + 3] in ('"""', "'''") else 1
        self.prefix = prefix.lower()
        self.body = text[len(prefix) + quote:len(text) - quote]
        self.line, self.col = token.line, token.column + len(prefix) + quote
        self.newlines = [k for k, c in enumerate(self.body) if c == "\n"]

    def pos(self, k: int) -> tuple[int, int]:
        n = bisect.bisect_left(self.newlines, k)
        if n == 0:
            return self.line, self.col + k
        return self.line + n, k - self.newlines[n - 1]


class _FStringReader:
    """Splits an f-string body into literal text and FormatFields, parsing
    each field's expression at its real position in the file."""

    def __init__(self, lit: _Literal, path: str, report: Report, parse_field: ParseField):
        self.lit, self.body, self.path = lit, lit.body, path
        self.report, self.parse_field = report, parse_field
        self.raw = "r" in lit.prefix

    def span(self, start: int, end: int) -> A.Span:
        return A.Span(self.path, *self.lit.pos(start), *self.lit.pos(end))

    def error(self, message: str, start: int, end: int) -> None:
        self.report("E001", f"f-string: {message}", self.span(start, end))

    def parts(self, k: int = 0, in_spec: bool = False) -> tuple[list, int]:
        """Read from offset k to the end (or, in a format spec, to its `}`)."""
        body, out, text, chunk_start = self.body, [], "", k
        while k < len(body):
            c = body[k]
            if c == "\\" and not self.raw:
                k = self.escape_end(k)
            elif c == "{" and not in_spec and body.startswith("{{", k):
                text += self.decode(chunk_start, k) + "{"
                k = chunk_start = k + 2
            elif c == "}" and not in_spec and body.startswith("}}", k):
                text += self.decode(chunk_start, k) + "}"
                k = chunk_start = k + 2
            elif c == "{":
                text += self.decode(chunk_start, k)
                field, debug_text, k = self.field(k)
                text += debug_text
                if text:
                    out.append(text)
                text, chunk_start = "", k
                if field is not None:
                    out.append(field)
            elif c == "}":
                if in_spec:
                    break
                self.error("a single `}` is not allowed: write `}}` for a literal brace", k, k + 1)
                k += 1
            else:
                k += 1
        text += self.decode(chunk_start, k)
        if text:
            out.append(text)
        return out, k

    def escape_end(self, k: int) -> int:
        """Skip the escape at k; a `\\N{...}` brace is not a field, but the
        brace of `\\{` is (the backslash stays literal, as in Python)."""
        if self.body.startswith("N{", k + 1):
            return self.body.find("}", k) + 1 or len(self.body)
        return k + 1 if self.body[k + 1:k + 2] in ("{", "}", "") else k + 2

    def decode(self, start: int, end: int) -> str:
        chunk = self.body[start:end]
        if self.raw:
            return chunk
        try:
            return unescape(chunk)
        except EscapeError as e:
            self.report("E002", e.message, self.span(start + e.offset, start + e.offset + 2))
            return chunk

    def field(self, start: int) -> tuple[Optional[A.FormatField], str, int]:
        """Read `{expr=!c:spec}` from the `{` at `start`; gives the field, the
        text a debug `=` adds before it, and the offset after the `}`."""
        body = self.body
        j = self.expression_end(start + 1)
        source, debug_text = body[start + 1:j], ""
        if j < len(body) and body[j] == "=":
            j = _WHITESPACE.match(body, j + 1).end()
            debug_text = body[start + 1:j]
        conversion = None
        if body.startswith("!", j):
            conversion = body[j + 1:j + 2]
            if conversion not in ("r", "s"):
                self.error("a conversion is `!r` or `!s`", j, j + 2)
            j += 2
        spec = []
        if body.startswith(":", j):
            spec, j = self.parts(j + 1, in_spec=True)
        if not body.startswith("}", j):
            self.error("expected `}` to close this field", start, start + 1)
            return None, debug_text, len(body)
        if not source.strip():
            self.error("empty expression in `{}`", start, j + 1)
            return None, debug_text, j + 1
        if debug_text and conversion is None and not spec:
            conversion = "r"
        expr = self.parse_field(source, *self.lit.pos(start + 1))
        field = A.FormatField(expr, conversion, tuple(spec), span=self.span(start, j + 1))
        return field, debug_text, j + 1

    def expression_end(self, k: int) -> int:
        """Offset of the `}`, `!`, `:` or debug `=` that ends a field's expression."""
        body, depth = self.body, 0
        while k < len(body):
            c, nxt = body[k], body[k + 1:k + 2]
            if c in "=!<>" and nxt == "=":
                k += 2
                continue
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0 and c == "}":
                    return k
                depth -= 1
            elif c in "'\"":
                close = body.find(c, k + 1)
                k = close if close >= 0 else len(body)
            elif c == "?" and nxt == "{":
                end = hole_end(body, k)
                k = len(body) if end is None else end
                continue
            elif depth == 0 and c in "!:=":
                return k
            elif c == "#":
                self.error("a field's expression cannot contain `#`", k, k + 1)
            k += 1
        return k


_WHITESPACE = re.compile(r"\s*")


def clean_docstring(text: str) -> str:
    """Docstring text without its common indentation (inspect.cleandoc's rule)."""
    lines = text.expandtabs().split("\n")
    indents = [len(s) - len(s.lstrip()) for s in lines[1:] if s.strip()]
    margin = min(indents, default=0)
    return "\n".join([lines[0].strip()] + [s[margin:].rstrip() for s in lines[1:]]).strip()
